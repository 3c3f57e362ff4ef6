import BPF

/// An action-counters map: a per-CPU array with one `{u64 packets; u64
/// bytes}` record per action, xdp-tools' `xdp_stats_map` layout. xdpbatch
/// shares one per interface among every program attached there, so that
/// totals survive a program swap; any other tool's map of that layout
/// reads the same way.
public struct ActionCounters: Sendable {
  /// The map.
  public let map: KernelMap

  /// The map's declaration, laid out as xdp-tools' `xdp_stats_map`.
  public static let definition = MapDefinition(
    name: "xdp_stats_map", type: .perCPUArray, keySize: 4,
    valueSize: UInt32(MemoryLayout<UInt64>.size * 2), maxEntries: UInt32(XDPAction.allCases.count))

  /// Wraps a map with the counters' layout.
  public init(map: KernelMap) {
    self.map = map
  }

  /// Creates a fresh, zeroed counters map.
  public static func create() throws(SystemCallError) -> ActionCounters {
    ActionCounters(map: try KernelMap.create(definition))
  }

  /// Opens the counters map pinned at `path`.
  public static func open(pinnedAt path: String) throws(SystemCallError) -> ActionCounters {
    ActionCounters(map: try KernelMap.open(pinnedAt: path, as: definition))
  }

  /// Whether `info` describes a map with the counters' layout and name
  /// (xdpbatch's, or any xdp-tools-style `xdp_stats_map`).
  public static func hasLayout(_ info: MapInfo) -> Bool {
    info.name == definition.name && info.type == .perCPUArray && info.keySize == 4
      && info.valueSize == 16 && info.maxEntries >= UInt32(XDPAction.allCases.count)
  }

  /// Reads every action's record, summed over CPUs.
  public func read() throws(SystemCallError) -> ActionCounts {
    var counts = ActionCounts()
    for action in XDPAction.allCases {
      guard let words = try map.lookupSummed(key: KernelMap.key(UInt32(action.rawValue))),
        words.count >= 2
      else { continue }
      counts[action] = ActionCount(packets: words[0], bytes: words[1])
    }
    return counts
  }

  /// Reads every action's record on each CPU.
  public func readPerCPU() throws(SystemCallError) -> PerCPUActionCounts {
    var cpus = [ActionCounts](repeating: ActionCounts(), count: map.copies)
    for action in XDPAction.allCases {
      guard let copies = try map.lookup(key: KernelMap.key(UInt32(action.rawValue))) else {
        continue
      }
      for (cpu, copy) in copies.enumerated() where copy.count >= 16 {
        let words = KernelMap.sum([copy])
        cpus[cpu][action] = ActionCount(packets: words[0], bytes: words[1])
      }
    }
    return PerCPUActionCounts(cpus: cpus)
  }
}
