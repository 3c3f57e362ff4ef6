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

/// A redirect target as four 32-bit words, the form the engine keeps in
/// memory its machine code addresses: the machine's pending redirect
/// (the kernel's per-CPU `bpf_redirect_info`) lives in the JIT's context
/// block, and each batch record's committed redirect in its runner's
/// slots, so that the batch epilogue's commit is a 16-byte copy the JIT
/// emits inline (no call into Swift) and the interpreter's helper does
/// the same copy.
struct RedirectWords: Equatable {
  /// 0: none; then one value per case of ``RedirectTarget``
  /// (``Kind``).
  var kind: UInt32
  /// The map's index, where the target names one.
  var map: UInt32
  /// The map key (DEVMAP entry), where the target has one.
  var key: UInt32
  /// ``RedirectTarget/slotValue``: what the epilogue stores in the
  /// record's redirect slot (the JIT reads it from here).
  var value: UInt32

  /// The values of ``kind``.
  enum Kind: UInt32 {
    case empty = 0, interface, device, processor, socket, broadcast, broadcastExcludingIngress
  }

  /// Byte offset of ``value`` in the 16 bytes.
  static let valueOffset: Int32 = 12

  static let none = RedirectWords(kind: 0, map: 0, key: 0, value: 0)

  init(kind: UInt32, map: UInt32, key: UInt32, value: UInt32) {
    (self.kind, self.map, self.key, self.value) = (kind, map, key, value)
  }

  init(_ target: RedirectTarget?) {
    guard let target else {
      self = .none
      return
    }
    let value = target.slotValue
    switch target {
    case .interface: self.init(kind: Kind.interface.rawValue, map: 0, key: 0, value: value)
    case .device(let map, let key, _):
      self.init(kind: Kind.device.rawValue, map: UInt32(map), key: key, value: value)
    case .processor(let map, _):
      self.init(kind: Kind.processor.rawValue, map: UInt32(map), key: 0, value: value)
    case .socket(let map, _):
      self.init(kind: Kind.socket.rawValue, map: UInt32(map), key: 0, value: value)
    case .broadcast(let map, let excluding):
      let kind: Kind = excluding ? .broadcastExcludingIngress : .broadcast
      self.init(kind: kind.rawValue, map: UInt32(map), key: 0, value: value)
    }
  }

  /// The target these words hold (nil for none, or words no target gives).
  var target: RedirectTarget? {
    let map = Int(self.map)
    switch Kind(rawValue: kind) {
    case .empty, nil: return nil
    case .interface: return .interface(value)
    case .device: return .device(map: map, key: key, interface: value)
    case .processor: return .processor(map: map, cpu: value)
    case .socket: return .socket(map: map, queue: value)
    case .broadcast: return .broadcast(map: map, excludingIngress: false)
    case .broadcastExcludingIngress: return .broadcast(map: map, excludingIngress: true)
    }
  }
}
