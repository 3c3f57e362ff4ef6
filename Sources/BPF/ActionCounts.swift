/// Per-action packet and byte counts: what the kernel's counters map, the
/// engine's runs and every `"actions"` JSON object report, in one shape.

/// Packets and bytes seen for one XDP action: xdp-tools' `struct
/// xdp_stats_record` (`__u64 rx_packets; __u64 rx_bytes;`).
public struct ActionCount: Hashable, Codable, Sendable {
  /// Packets.
  public var packets: UInt64
  /// Bytes.
  public var bytes: UInt64

  /// Describes a count.
  public init(packets: UInt64 = 0, bytes: UInt64 = 0) {
    self.packets = packets
    self.bytes = bytes
  }
}

/// One ``ActionCount`` per XDP action.
public struct ActionCounts: Hashable, Sendable {
  /// Counts indexed by `XDPAction.rawValue`.
  public var counts: [ActionCount]

  /// All zero.
  public init() { counts = Array(repeating: ActionCount(), count: XDPAction.allCases.count) }

  /// The count for `action`.
  public subscript(action: XDPAction) -> ActionCount {
    get { counts[Int(action.rawValue)] }
    set { counts[Int(action.rawValue)] = newValue }
  }

  /// Packets over all actions.
  public var totalPackets: UInt64 { counts.reduce(0) { $0 &+ $1.packets } }

  /// Counts one packet of `bytes` bytes for `action`.
  public mutating func record(_ action: XDPAction, bytes: Int) {
    self[action].packets &+= 1
    self[action].bytes &+= UInt64(bytes)
  }

  /// Adds another set of counts, action by action.
  public mutating func add(_ other: ActionCounts) {
    for action in XDPAction.allCases {
      self[action].packets &+= other[action].packets
      self[action].bytes &+= other[action].bytes
    }
  }
}

extension ActionCounts: Codable {
  /// Encodes as docs/DESIGN.md's `"actions"` object: `{"aborted": {"packets",
  /// "bytes"}, "drop": ..., ...}`.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: ActionKey.self)
    for action in XDPAction.allCases {
      try container.encode(self[action], forKey: ActionKey(action))
    }
  }

  /// Decodes the `"actions"` object; missing actions count zero.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: ActionKey.self)
    self.init()
    for action in XDPAction.allCases {
      self[action] =
        try container.decodeIfPresent(ActionCount.self, forKey: ActionKey(action)) ?? ActionCount()
    }
  }

  private struct ActionKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ action: XDPAction) { stringValue = action.name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }
}
