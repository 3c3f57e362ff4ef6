import BPF

/// The interface-scoped action-counters map: a per-CPU array with one
/// `{packets, bytes}` record per action, shared by every program attached
/// to the interface so that totals survive a program swap.
public struct ActionCounters: Sendable {
  /// The map.
  public let map: KernelMap

  /// The map's declaration, laid out as xdp-tools' `xdp_stats_map`.
  public static let definition = MapDefinition(
    name: "xdp_stats_map", type: .perCPUArray, keySize: 4,
    valueSize: UInt32(MemoryLayout<UInt64>.size * 2), maxEntries: UInt32(XDPAction.allCases.count))

  /// Wraps a map created from ``definition``.
  public init(map: KernelMap) {
    self.map = map
  }

  /// Creates a fresh, zeroed counters map.
  public static func create() throws(SystemCallError) -> ActionCounters {
    ActionCounters(map: try KernelMap.create(definition))
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
