import ArgumentParser
import BPF
import Datapath
import Deployment
import Foundation
import Kernel

/// `xdpbatch stats`: the interface's per-action counters, their rates and
/// the program's cost per packet; once, or every interval (JSON lines).
struct StatsCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "stats",
    abstract: "Print per-action counters and rates of xdpbatch's program on an interface.")

  @Argument(help: "The network interface.")
  var interface: String

  @Flag(help: "Print JSON (one document, or one line per interval with --interval).")
  var json = false

  // Unconditional: `--interval -1` is a (refused) value, not a missing one.
  @Option(parsing: .unconditional, help: "Print every SECONDS seconds (rates over each interval).")
  var interval: Double?

  @Option(parsing: .unconditional, help: "With --interval: stop after N reports.")
  var count: Int?

  /// The window for rates when printing once.
  static let singleWindow = 0.5

  func validate() throws {
    if let interval, !(interval > 0) { throw ValidationError("--interval must be above 0") }
    if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    if count != nil && interval == nil { throw ValidationError("--count needs --interval") }
  }

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    try Privileges.require(for: "stats")
    let deployment = ProgramDeployment.commandLine()
    // What a killed command or a dead datapath left is repaired first
    // (unless a command is at work on the interface), so that the report
    // says what the kernel runs.
    deployment.recoverIfIdle(interface: interface)
    let statistics = try? RunStatistics.enable()
    defer { _ = statistics }
    let (attachment, record): (XDPAttachment, AttachmentRecord?)
    do {
      (attachment, record) = try deployment.current(interface: interface)
    } catch {
      // Another tool's program: its run statistics, as bpftop shows them.
      guard case .attach(.notAttached) = error,
        let foreign = try? deployment.foreignPrograms(interface: interface), !foreign.isEmpty
      else { throw error }
      try ForeignRunReport.watch(foreign, on: interface, statistics: statistics, options: self)
      return
    }
    do {
      try watch(attachment, record: record, deployment: deployment)
    } catch let error as WatchError {
      // What xdpbatch kept for the deleted interface goes now.
      if case .interfaceGone = error { deployment.removeVanishedInterfaces() }
      throw error
    }
  }

  /// Prints a report now (after the single window), or every interval.
  private func watch(
    _ attachment: XDPAttachment, record: AttachmentRecord?, deployment: ProgramDeployment
  ) throws {
    try attachment.watch(every: interval ?? Self.singleWindow, reports: interval == nil ? 1 : count)
    { sample, tracker in
      var report = StatsReport(
        interface: interface, record: record, sample: sample,
        name: (try? attachment.program().name) ?? "?", attachMode: try? attachment.mode(),
        tracker: tracker, software: deployment.status(interface: interface))
      report.perCPU = try? attachment.counters.readPerCPU()
      report.time = StatsReport.timestamp(Date())
      // Unbuffered, so that a reader of a pipe sees each interval at once.
      FileHandle.standardOutput.write(
        Data(((json ? report.jsonLine() : report.table()) + "\n").utf8))
    }
  }
}

/// One report of `stats`, in docs/DESIGN.md's JSON shape (`mode` is the
/// form; `form` repeats it under its own name).
struct StatsReport: Encodable {
  /// When the counters were read: UTC, RFC 3339 with milliseconds
  /// (`2026-12-06T14:03:07.123Z`); every report of `--interval` has one.
  var time: String?
  var interface: String
  var program: String
  var mode: String?
  var form: String?
  var attachMode: String?
  var programID: UInt32
  var actions: ActionCounts
  var rates: [String: Double]
  var nsPerPacket: Double?
  /// The action counts of each CPU (`per_cpu`: one `actions` object a CPU).
  var perCPU: PerCPUActionCounts?
  /// `kernel` or `software` (a software datapath found dead reports
  /// `kernel`: the kernel fallback runs the program then).
  var datapath: DatapathKind = .kernel
  /// The software datapath's sockets' XDP_STATISTICS.
  var socket: SocketStatistics?
  /// The software datapath's time per packet in each form.
  var forms: TimingByForm?
  /// The software datapath's two forms measured alternately on the same
  /// traffic after the last swap (docs/DESIGN.md, "Like with like").
  var comparison: TimingByForm?
  var zeroCopy: Bool?
  /// The software datapath's failed redirects by reason (an XSKMAP target
  /// cannot be followed: its sockets own the queues).
  var redirectFailures: RedirectFailures?
  /// REDIRECT verdicts whose frame did not leave, by reason (the software
  /// datapath's, whose REDIRECT counts only frames that left; the kernel
  /// datapath's from its tracepoints, whose REDIRECT counts verdicts).
  var redirectErrors: RedirectErrors?
  /// Why ``redirectErrors`` is missing (a kernel datapath without its tracer).
  var redirectErrorsUnavailable: String?
  /// Whether the record's software datapath is dead (its kernel fallback
  /// runs the program per packet until `swap`, `attach` or `detach`).
  var datapathDead: Bool?
  /// The software datapath's engine (`jit` or `interpreter`: the one that
  /// runs the program, the interpreter when the JIT refused it).
  var engine: String?
  /// Whether the software datapath acts on verdicts grouped by action.
  var groupActions: Bool?

  /// A report of what the kernel runs: the program id and attach mode
  /// come from the kernel; the record adds the object's names and form
  /// when it describes that program.
  init(
    interface: String, record: AttachmentRecord?, sample: CounterSample, name: String,
    attachMode kernelMode: AttachMode?, tracker report: CounterTracker.Report,
    software: DatapathStatus?
  ) {
    self.interface = interface
    program = record?.program ?? name
    mode = record?.runningForm.rawValue
    form = mode
    attachMode = (kernelMode ?? record?.attachMode)?.rawValue
    programID = sample.programID
    actions = report.totals
    rates = Dictionary(
      uniqueKeysWithValues: XDPAction.allCases.map { ($0.name, report.packetsPerSecond[$0] ?? 0) })
    nsPerPacket = report.nanosecondsPerPacket
    datapath = software == nil ? .kernel : .software
    socket = software?.socket
    forms = software?.forms
    comparison = software?.comparison
    zeroCopy = software?.zeroCopy
    redirectFailures = software?.redirectFailures
    redirectErrors = software?.redirectErrors
    if software == nil {
      // What the kernel reported to the tracepoints (REDIRECT counts the
      // program's verdicts here: the frames that left are REDIRECT less these).
      redirectErrors = RedirectErrorTracer.read(interface: interface)
      if redirectErrors == nil {
        redirectErrorsUnavailable = RedirectErrorTracer.unavailable(interface: interface)
      }
    }
    if record?.datapathIsDead == true { datapathDead = true }
    engine = software?.runningEngine?.rawValue
    groupActions = software?.groupActions
    if let software {
      // The kernel's run statistics would time the redirect program: the
      // engine's time per packet in the running form says what the program costs.
      nsPerPacket = software.forms[software.form].programNanosecondsPerPacket
    }
  }

  /// `per-packet → batch` as measured alternately after the last swap, or
  /// nil before both forms ran in that window.
  static func comparisonLine(_ comparison: TimingByForm, engine: String?) -> String? {
    let perPacket = comparison.perPacket
    let batch = comparison.batch
    guard let program = perPacket.programNanosecondsPerPacket,
      let batchProgram = batch.programNanosecondsPerPacket,
      let datapath = perPacket.datapathNanosecondsPerPacket,
      let batchDatapath = batch.datapathNanosecondsPerPacket
    else { return nil }
    let figures = String(
      format: "program %.1f -> %.1f ns/packet, datapath %.1f -> %.1f ns/packet", program,
      batchProgram, datapath, batchDatapath)
    return
      "per-packet -> batch (software datapath, \(engine ?? "engine"), the same traffic after the last swap: \(perPacket.packets) + \(batch.packets) packets): "
      + figures
  }

  func jsonLine() -> String { JSONCoding.line(self) }

  /// `date` as RFC 3339 in UTC with milliseconds.
  static func timestamp(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
  }

  func table() -> String {
    let place =
      datapathDead == true
      ? "kernel fallback, software datapath dead" : "\(datapath.rawValue) datapath"
    let cost = nsPerPacket.map { String(format: "%.1f ns/packet", $0) } ?? "ns/packet n/a"
    var lines = [
      (time.map { "\($0) " } ?? "")
        + "\(interface): \(program) (\(mode ?? "unknown form"), \(place), \(attachMode ?? "?") mode, id \(programID)), \(cost)",
      "ACTION          PACKETS            BYTES       PACKETS/S",
    ]
    for action in XDPAction.allCases {
      let count = actions[action]
      lines.append(
        action.name.padding(toLength: 8, withPad: " ", startingAt: 0)
          + String(
            format: "%15llu  %15llu  %14.0f", count.packets, count.bytes, rates[action.name] ?? 0))
    }
    if let comparison, let line = Self.comparisonLine(comparison, engine: engine) {
      lines.append(line)
    }
    if let errors = redirectErrors {
      lines.append("redirect errors: \(errors.summary)")
    } else if let why = redirectErrorsUnavailable {
      lines.append("redirect errors: \(why)")
    }
    if let failures = redirectFailures, failures.total > 0 {
      lines.append(
        "redirect failed in the software datapath: \(failures.unsent) not sent, \(failures.socket) to an XSKMAP socket (its own sockets own the queues), \(failures.processor) to a CPUMAP, \(failures.broadcast) broadcast"
      )
    }
    return lines.joined(separator: "\n")
  }
}
