import Glibc

/// The message log (`l`): what the status line showed and what libbpf
/// and libxdp printed while the console ran, each occurrence once, oldest
/// first, with the time it came. The same message again right after
/// itself is counted on its entry (`×3`), not added.
public struct MessageLog: Hashable, Sendable {
  /// One entry: a message, when it first came, how many times in a row.
  public struct Entry: Hashable, Sendable {
    /// The message.
    public var message: StatusMessage
    /// When it first came, seconds since 1970.
    public var time: Double
    /// How many times it came in a row.
    public var count = 1

    /// `14:03:07`, local time.
    public var clock: String { MessageLog.clock(time) }
  }

  /// The entries, oldest first; at most ``limit``.
  public private(set) var entries: [Entry] = []

  /// Entries the log keeps.
  public static let limit = 500

  /// An empty log.
  public init() {}

  /// The number of entries.
  public var count: Int { entries.count }

  /// Adds `message`, which came at `time`.
  public mutating func append(_ message: StatusMessage, at time: Double) {
    if let last = entries.indices.last, entries[last].message == message {
      entries[last].count += 1
      return
    }
    entries.append(Entry(message: message, time: time))
    if entries.count > Self.limit { entries.removeFirst(entries.count - Self.limit) }
  }

  /// `time` (seconds since 1970) as `HH:MM:SS` in local time.
  static func clock(_ time: Double) -> String {
    var seconds = time_t(time.rounded(.down))
    var parts = tm()
    localtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
  }

  /// The log as lines at most `width` cells wide: each entry's time, a
  /// mark (`✗` error, `·` info) and its text wrapped under it, then its
  /// detail (a verifier's log) wrapped and indented. Nothing is cut.
  func lines(width: Int) -> [(text: String, isDetail: Bool, entry: Int)] {
    var lines: [(text: String, isDetail: Bool, entry: Int)] = []
    for (index, entry) in entries.enumerated() {
      let mark = entry.message.severity == .error ? "✗" : "·"
      let repeats = entry.count > 1 ? " (×\(entry.count))" : ""
      let lead = "\(entry.clock) \(mark) "
      let indent = String(repeating: " ", count: lead.displayWidth)
      let text = entry.message.text.split(separator: "\n", omittingEmptySubsequences: false)
      for (offset, line) in text.enumerated() {
        let content = String(line) + (offset == text.count - 1 ? repeats : "")
        for (part, piece) in content.wrapped(toWidth: max(1, width - lead.displayWidth))
          .enumerated()
        {
          lines.append(((offset == 0 && part == 0 ? lead : indent) + piece, false, index))
        }
      }
      let detailIndent = indent + "  "
      for line in entry.message.detail?.split(separator: "\n", omittingEmptySubsequences: false)
        ?? []
      {
        for piece in String(line).wrapped(toWidth: max(1, width - detailIndent.displayWidth)) {
          lines.append((detailIndent + piece, true, index))
        }
      }
    }
    return lines
  }
}
