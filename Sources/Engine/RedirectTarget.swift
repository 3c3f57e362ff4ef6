import BPF

/// Where a redirect sends a packet, as `bpf_redirect` or
/// `bpf_redirect_map` recorded it for the runtime to act on.
public enum RedirectTarget: Hashable, Sendable {
  /// `bpf_redirect(ifindex, 0)`.
  case interface(UInt32)
  /// `bpf_redirect_map` on a DEVMAP/DEVMAP_HASH entry, resolved to the
  /// entry's interface index.
  case device(map: Int, key: UInt32, interface: UInt32)
  /// `bpf_redirect_map` on a CPUMAP: the CPU.
  case processor(map: Int, cpu: UInt32)
  /// `bpf_redirect_map` on an XSKMAP: the queue's socket slot.
  case socket(map: Int, queue: UInt32)
  /// `bpf_redirect_map` with `BPF_F_BROADCAST`: every entry of a DEVMAP,
  /// optionally (`BPF_F_EXCLUDE_INGRESS`) except the receiving interface.
  case broadcast(map: Int, excludingIngress: Bool)

  /// The 32-bit value the engine stores in a batch record's redirect slot:
  /// the interface index for interface and device targets, the CPU or
  /// queue for the others, 0 for broadcast.
  public var slotValue: UInt32 {
    switch self {
    case .interface(let index): index
    case .device(_, _, let interface): interface
    case .processor(_, let cpu): cpu
    case .socket(_, let queue): queue
    case .broadcast: 0
    }
  }
}
