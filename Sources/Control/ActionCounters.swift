import BPF

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
}

extension ActionCounts: Codable {
  /// Encodes as DESIGN.md's `"actions"` object: `{"aborted": {"packets",
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

/// The interface-scoped action-counters map: a per-CPU array with one
/// `{packets, bytes}` record per action, shared by every program attached
/// to the interface so that totals survive a program swap.
public struct ActionCounters: Sendable {
  /// The map.
  public let map: BPFMap

  /// The map's declaration, laid out as xdp-tools' `xdp_stats_map`.
  public static let definition = MapDefinition(
    name: "xdp_stats_map", type: .perCPUArray, keySize: 4,
    valueSize: UInt32(MemoryLayout<UInt64>.size * 2), maxEntries: UInt32(XDPAction.allCases.count))

  /// Wraps a map created from ``definition``.
  public init(map: BPFMap) {
    self.map = map
  }

  /// Creates a fresh, zeroed counters map.
  public static func create() throws(SystemCallError) -> ActionCounters {
    ActionCounters(map: try BPFMap.create(definition))
  }

  /// Reads every action's record, summed over CPUs.
  public func read() throws(SystemCallError) -> ActionCounts {
    var counts = ActionCounts()
    for action in XDPAction.allCases {
      guard let words = try map.lookupSummed(key: action.rawValue.littleEndianBytes),
        words.count >= 2
      else { continue }
      counts[action] = ActionCount(packets: words[0], bytes: words[1])
    }
    return counts
  }
}
