import Foundation

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

  /// The start ticks of a live (not zombie) process `pid`, nil when there is none.
  public static func startTicks(of pid: Int32) -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state is field 3, start time field 22.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
    return UInt64(fields[19])
  }

  /// Whether the process is still the datapath that was recorded.
  public var isAlive: Bool { Self.startTicks(of: pid) == startTicks }

  enum CodingKeys: String, CodingKey {
    case pid, started, log
    case startTicks = "start_ticks"
  }
}
