import BPF

/// Action counts per CPU, read from an action-counters map
/// (``ActionCounters/readPerCPU()``).
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

  /// JSON: an array, one `actions` object per CPU.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.unkeyedContainer()
    for counts in cpus { try container.encode(counts) }
  }
}
