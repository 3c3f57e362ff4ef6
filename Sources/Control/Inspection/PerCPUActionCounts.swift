import BPF

/// Action counts per CPU, read from an action-counters map (xdpbatch's,
/// or any xdp-tools-style `xdp_stats_map`: per-CPU array of
/// `{u64 packets; u64 bytes}` indexed by action).
public struct PerCPUActionCounts: Hashable, Sendable, Encodable {
  /// One entry per possible CPU, in CPU order.
  public var cpus: [ActionCounts]

  /// Wraps counts per CPU.
  public init(cpus: [ActionCounts]) {
    self.cpus = cpus
  }

  /// The counts added over CPUs.
  public var total: ActionCounts {
    var total = ActionCounts()
    for counts in cpus { total.add(counts) }
    return total
  }

  /// Reads `map`, which must have the counters' layout.
  public static func read(_ map: InspectedMap) throws(SystemCallError) -> PerCPUActionCounts {
    var cpus = [ActionCounts](repeating: ActionCounts(), count: map.copies)
    for action in XDPAction.allCases {
      let key = (0..<4).map { UInt8(truncatingIfNeeded: action.rawValue >> ($0 * 8)) }
      guard let copies = try map.lookup(key: key) else { continue }
      for (cpu, copy) in copies.enumerated() where copy.count >= 16 {
        cpus[cpu][action] = ActionCount(
          packets: BTFValueFormat.littleEndian(copy[0..<8]),
          bytes: BTFValueFormat.littleEndian(copy[8..<16]))
      }
    }
    return PerCPUActionCounts(cpus: cpus)
  }

  /// Whether `map` has the counters' layout.
  public static func isCounters(_ summary: MapSummary) -> Bool {
    summary.name == CountersBTF.mapName && summary.type == .perCPUArray && summary.keySize == 4
      && summary.valueSize == 16 && summary.maxEntries >= UInt32(XDPAction.allCases.count)
  }

  /// The per-CPU counts of the program on an interface, when one of its
  /// maps is an action-counters map (xdpbatch's counting pass adds one).
  public static func of(_ program: InterfaceProgram) -> PerCPUActionCounts? {
    guard let maps = try? program.maps(),
      let counters = maps.first(where: { isCounters($0.summary) })
    else { return nil }
    return try? read(counters)
  }

  /// JSON: an array, one `actions` object per CPU.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.unkeyedContainer()
    for counts in cpus { try container.encode(counts) }
  }
}
