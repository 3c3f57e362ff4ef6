import Kernel

/// The software datapath's process, as its attachment record keeps it.
public struct DatapathProcessRecord: Hashable, Codable, Sendable {
  /// The process id.
  public var pid: Int32
  /// Its start time in clock ticks after boot (`/proc/PID/stat` field
  /// 22): a live process with this pid but another start time is not it.
  public var startTicks: UInt64
  /// When it started (seconds since 1970).
  public var started: Double
  /// Where its standard output and error go.
  public var log: String

  /// Describes a process.
  public init(pid: Int32, startTicks: UInt64, started: Double, log: String) {
    self.pid = pid
    self.startTicks = startTicks
    self.started = started
    self.log = log
  }

  /// Whether the process is still the datapath that was recorded.
  public var isAlive: Bool { Processes.startTicks(of: pid) == startTicks }
}
