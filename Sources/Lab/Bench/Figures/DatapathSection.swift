import Engine
import Foundation
import Glibc

/// The datapath section of `bench` (`"datapath"` in `--json`): the rows,
/// or why the section was skipped, and the machine it ran on.
public struct DatapathSection: Encodable, Sendable {
  /// The rows, in the order measured; empty when skipped.
  public var rows: [DatapathBenchRow] = []
  /// What sharing the maps with the kernel costs, per sample.
  public var maps: [MapCostRow] = []
  /// Why the section did not run, when it did not.
  public var skipped: String?
  /// CPUs, CPU model, kernel and load average.
  public var machine = MachineDescription.current()
  /// Traffic generator threads (on CPUs 0 to senders - 1).
  public var senders: Int?
  /// The veth pair, namespace and state directory the section made and
  /// removed (nil when skipped before making them).
  public var network: DatapathBenchNetwork?
  /// Issue 22's datapath figures from the rows (nil when skipped).
  public var goals: DatapathGoals?

  /// Runs the section, or says why not.
  public static func measure(
    samples: String, seconds: Double, engine: EngineKind, senders: Int?,
    pacedBatches: [Int] = DatapathBench.defaultPacedBatches,
    rounds: Int = DatapathBench.defaultRounds, progress: BenchProgress = .silent
  ) -> DatapathSection {
    if let reason = DatapathBench.unavailableReason {
      progress.note("datapath: skipped (\(reason))")
      return DatapathSection(skipped: reason)
    }
    var bench = DatapathBench(samples: samples, seconds: seconds, engine: engine, senders: senders)
    bench.pacedBatches = pacedBatches
    bench.rounds = rounds
    progress.step(
      "datapath on a veth pair (\(seconds) s of full-speed traffic per row, "
        + "in \(rounds) round(s) for the datapath's rows, "
        + "\(bench.sendingThreads) generator thread(s))")
    var section = DatapathSection(senders: bench.sendingThreads, network: bench.network)
    do {
      (section.rows, section.maps) = try bench.run {
        progress.note("datapath: " + $0)
      }
    } catch {
      progress.note("datapath: \(error)")
      section.skipped = "\(error)"
    }
    section.machine = MachineDescription.current()
    if !section.rows.isEmpty { section.goals = DatapathGoals(rows: section.rows) }
    return section
  }
}

/// The machine a figure was measured on.
public struct MachineDescription: Encodable, Sendable {
  /// Online CPUs.
  public var processors: Int
  /// `model name` of /proc/cpuinfo.
  public var cpu: String
  /// `uname -r`.
  public var kernel: String
  /// The 1, 5 and 15 minute load averages when the section ended.
  public var load: [Double]

  /// This machine now.
  public static func current() -> MachineDescription {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model =
      cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
      .flatMap { $0.split(separator: ":", maxSplits: 1).last }
      .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: &name.release) {
      String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
    }
    var load = [Double](repeating: 0, count: 3)
    _ = getloadavg(&load, 3)
    return MachineDescription(
      processors: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), cpu: model, kernel: release,
      load: load.map { ($0 * 100).rounded() / 100 })
  }
}
