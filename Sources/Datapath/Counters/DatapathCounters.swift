import BPF
import Glibc
import Kernel

/// The software datapath's own counter records: a pinned plain array,
/// written only by the datapath (one writer, whole values), which readers
/// add to the kernel's per-CPU action counters. The kernel fallback may
/// count into those at the same moment, so the datapath never writes them:
/// a userspace read-modify-write of a per-CPU element would lose the
/// kernel's increments.
///
/// Keys 0–4 are the XDP actions (`{packets, bytes}`, the layout of
/// `xdp_stats_map`); 5 counts REDIRECT verdicts the datapath could not
/// carry out, 6 PASS frames the TAP device refused, 7 TX frames the TX ring
/// had no room for.
public struct DatapathCounters: Sendable {
  /// The map.
  public let map: KernelMap

  /// The pinned map's declaration.
  public static let definition = MapDefinition(
    name: "xdpbatch_dp", type: .array, keySize: 4, valueSize: 16, maxEntries: 8)

  /// Key of the failed-redirect record.
  static let redirectFailedKey: UInt32 = 5
  /// Key of the undelivered-PASS record.
  static let passFailedKey: UInt32 = 6
  /// Key of the TX-ring-full record.
  static let transmitFailedKey: UInt32 = 7

  /// Wraps the map.
  public init(map: KernelMap) { self.map = map }

  /// Everything the datapath counts.
  public struct Totals: Hashable, Codable, Sendable {
    /// Verdicts, per action.
    public var actions = ActionCounts()
    /// REDIRECT verdicts that reached no interface.
    public var redirectFailed = ActionCount()
    /// PASS frames the TAP device did not take.
    public var passFailed = ActionCount()
    /// TX frames dropped for want of room on the TX ring.
    public var transmitFailed = ActionCount()

    /// All zero.
    public init() {}

    /// Adds another set, field by field.
    public mutating func add(_ other: Totals) {
      actions.add(other.actions)
      redirectFailed.packets &+= other.redirectFailed.packets
      redirectFailed.bytes &+= other.redirectFailed.bytes
      passFailed.packets &+= other.passFailed.packets
      passFailed.bytes &+= other.passFailed.bytes
      transmitFailed.packets &+= other.transmitFailed.packets
      transmitFailed.bytes &+= other.transmitFailed.bytes
    }

    private enum CodingKeys: String, CodingKey {
      case actions, redirectFailed, passFailed
      case transmitFailed = "txFailed"
    }
  }

  /// Opens the map pinned for `pins`, or creates and pins a zeroed one.
  public static func openOrCreate(_ pins: DatapathPins) throws(SystemCallError) -> DatapathCounters
  {
    if access(pins.countersPath, F_OK) == 0 {
      return DatapathCounters(map: try KernelMap.open(pinnedAt: pins.countersPath, as: definition))
    }
    let map = try KernelMap.create(definition)
    try map.pin(at: pins.countersPath)
    return DatapathCounters(map: map)
  }

  /// The records pinned for `interface`, or nil when it has none.
  public static func read(interface: String) -> Totals? {
    read(DatapathPins(interface: interface))
  }

  /// The records pinned in `pins`, or nil when there are none.
  public static func read(_ pins: DatapathPins) -> Totals? {
    guard access(pins.countersPath, F_OK) == 0,
      let map = try? KernelMap.open(pinnedAt: pins.countersPath, as: definition)
    else { return nil }
    return try? DatapathCounters(map: map).read()
  }

  /// The per-action records pinned in `pins` (keys 0–4), all zero
  /// when none are pinned: what readers add to the interface's action
  /// counters, which the datapath never writes.
  public static func actions(_ pins: DatapathPins) -> ActionCounts {
    read(pins)?.actions ?? ActionCounts()
  }

  /// Reads every record.
  public func read() throws(SystemCallError) -> Totals {
    var totals = Totals()
    for action in XDPAction.allCases {
      totals.actions[action] = try record(action.rawValue)
    }
    totals.redirectFailed = try record(Self.redirectFailedKey)
    totals.passFailed = try record(Self.passFailedKey)
    totals.transmitFailed = try record(Self.transmitFailedKey)
    return totals
  }

  /// Writes every record (whole values: the datapath is the only writer).
  public func write(_ totals: Totals) throws(SystemCallError) {
    for action in XDPAction.allCases {
      try store(action.rawValue, totals.actions[action])
    }
    try store(Self.redirectFailedKey, totals.redirectFailed)
    try store(Self.passFailedKey, totals.passFailed)
    try store(Self.transmitFailedKey, totals.transmitFailed)
  }

  private func record(_ key: UInt32) throws(SystemCallError) -> ActionCount {
    guard let words = try map.lookupSummed(key: Self.bytes(key)), words.count >= 2 else {
      return ActionCount()
    }
    return ActionCount(packets: words[0], bytes: words[1])
  }

  private func store(_ key: UInt32, _ count: ActionCount) throws(SystemCallError) {
    try map.update(key: Self.bytes(key), value: Self.bytes(count.packets) + Self.bytes(count.bytes))
  }

  /// The little-endian bytes of `value`, as the records' keys and words are written.
  static func bytes<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
  }
}
