import BPF
import Deployment
import Foundation
import Kernel

/// `stats` for a program another tool attached: xdpbatch's counters run
/// only in its own programs, so the report is the kernel's run
/// statistics (`run_cnt`, `run_time_ns` of `bpf_prog_info`), as bpftop
/// shows them: runs per second and nanoseconds per run over the window.
/// The kernel keeps them only while statistics are on: `stats` holds a
/// `BPF_ENABLE_STATS` descriptor while it runs (what bpftop does; the
/// kernel turns them off again when the descriptor closes, whatever
/// `kernel.bpf_stats_enabled` says, which is left as it was).
struct ForeignRunReport: Encodable {
  var time: String
  var interface: String
  var program: String
  var programID: UInt32
  var attachMode: String
  var attachedBy = "another tool"
  /// Runs counted since statistics were turned on (by anyone).
  var runCount: UInt64
  var runsPerSecond: Double
  /// Over the window; over every counted run when the window had none.
  var nsPerRun: Double?
  /// Whether the kernel counts runs (false: statistics could not be turned on).
  var statisticsEnabled: Bool

  func table() -> String {
    let cost = nsPerRun.map { String(format: "%.1f ns/run", $0) } ?? "ns/run n/a"
    return
      "\(time) \(interface): \(program) (attached by another tool, \(attachMode) mode, id \(programID)), \(cost)\n"
      + String(format: "runs %llu, %.0f runs/s", runCount, runsPerSecond)
      + (statisticsEnabled ? "" : " (run statistics are off: this needs CAP_SYS_ADMIN)")
  }

  /// Samples each program's statistics every `options.interval` (once
  /// over the single window without it) and prints a report for each.
  static func watch(
    _ programs: [AttachedProgram], on interface: String, statistics: RunStatistics?,
    options: StatsCommand
  ) throws {
    let window = options.interval ?? StatsCommand.singleWindow
    // The program descriptors keep the programs' statistics readable after
    // the interface is gone: each report checks it is still there.
    guard let index = NetworkInterface.index(of: interface) else {
      throw AttachError.interfaceNotFound(interface)
    }
    let opened = try programs.map { ($0, try LoadedProgram.open(id: $0.id)) }
    var previous = try opened.map { try $0.1.info() }
    var started = Date()
    for _ in 0..<(options.interval == nil ? 1 : options.count ?? Int.max) {
      Thread.sleep(forTimeInterval: window)
      try WatchError.checkInterface(interface, index: index)
      let now = Date()
      let current = try opened.map { try $0.1.info() }
      for ((program, _), (before, after)) in zip(opened, zip(previous, current)) {
        let runs = after.runCount &- before.runCount
        let time = after.runTimeNanoseconds &- before.runTimeNanoseconds
        let report = ForeignRunReport(
          time: StatsReport.timestamp(now), interface: interface, program: after.name,
          programID: program.id, attachMode: program.mode.rawValue, runCount: after.runCount,
          runsPerSecond: Double(runs) / now.timeIntervalSince(started),
          nsPerRun: runs > 0 ? Double(time) / Double(runs) : after.nanosecondsPerRun,
          statisticsEnabled: statistics != nil)
        FileHandle.standardOutput.write(
          Data(((options.json ? JSONCoding.line(report) : report.table()) + "\n").utf8))
      }
      previous = current
      started = now
    }
  }
}
