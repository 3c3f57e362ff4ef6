/// The kernel helper functions an XDP program calls, by their stable ids
/// (`enum bpf_func_id`), plus the one helper that exists only in this
/// project's engine.
public struct HelperFunction: RawRepresentable, Hashable, Sendable {
  /// The helper id: the immediate of `call`.
  public var rawValue: Int32
  /// Wraps a helper id.
  @inlinable public init(rawValue: Int32) { self.rawValue = rawValue }

  // The ids are computed and inlinable, not stored globals: the engine's
  // helper dispatch compares against them once per helper call, and a
  // stored global of another module costs an initialisation check each.

  @inlinable public static var mapLookupElement: HelperFunction { HelperFunction(rawValue: 1) }
  @inlinable public static var mapUpdateElement: HelperFunction { HelperFunction(rawValue: 2) }
  @inlinable public static var mapDeleteElement: HelperFunction { HelperFunction(rawValue: 3) }
  @inlinable public static var ktimeGetNanoseconds: HelperFunction { HelperFunction(rawValue: 5) }
  @inlinable public static var tracePrintk: HelperFunction { HelperFunction(rawValue: 6) }
  @inlinable public static var getPseudoRandomU32: HelperFunction { HelperFunction(rawValue: 7) }
  @inlinable public static var getSMPProcessorID: HelperFunction { HelperFunction(rawValue: 8) }
  @inlinable public static var tailCall: HelperFunction { HelperFunction(rawValue: 12) }
  @inlinable public static var redirect: HelperFunction { HelperFunction(rawValue: 23) }
  @inlinable public static var checksumDiff: HelperFunction { HelperFunction(rawValue: 28) }
  @inlinable public static var xdpAdjustHead: HelperFunction { HelperFunction(rawValue: 44) }
  @inlinable public static var redirectMap: HelperFunction { HelperFunction(rawValue: 51) }
  @inlinable public static var xdpAdjustMeta: HelperFunction { HelperFunction(rawValue: 54) }
  @inlinable public static var xdpAdjustTail: HelperFunction { HelperFunction(rawValue: 65) }
  @inlinable public static var xdpLoadBytes: HelperFunction { HelperFunction(rawValue: 189) }
  @inlinable public static var xdpStoreBytes: HelperFunction { HelperFunction(rawValue: 190) }

  /// Engine-only: moves the redirect target that `redirect`/`redirect_map`
  /// left in the per-CPU redirect state into the current batch record's
  /// redirect slot (R1 = the record), and clears the per-CPU state. The batch
  /// epilogue calls it after each packet, so that packet i+1 cannot overwrite
  /// packet i's target: the kernel's `bpf_redirect_info` problem from the
  /// talk. The id is far above any kernel helper so it can never collide.
  @inlinable public static var commitRedirect: HelperFunction {
    HelperFunction(rawValue: 0x7fff_0001)
  }

  private static let names: [Int32: String] = [
    1: "map_lookup_elem", 2: "map_update_elem", 3: "map_delete_elem", 5: "ktime_get_ns",
    6: "trace_printk", 7: "get_prandom_u32", 8: "get_smp_processor_id", 12: "tail_call",
    23: "redirect", 28: "csum_diff", 44: "xdp_adjust_head", 51: "redirect_map",
    54: "xdp_adjust_meta", 65: "xdp_adjust_tail", 189: "xdp_load_bytes", 190: "xdp_store_bytes",
    0x7fff_0001: "xdpbatch_commit_redirect",
  ]

  /// The kernel's name without the `bpf_` prefix, if known.
  public var name: String? { Self.names[rawValue] }

  /// Whether the helper sets the redirect target (and so a batch program
  /// needs the per-buffer commit step).
  public var setsRedirectTarget: Bool { self == .redirect || self == .redirectMap }
}

extension HelperFunction: CustomStringConvertible {
  /// `bpf_name#id`, or `helper#id` when the id is unknown.
  public var description: String {
    name.map { "bpf_\($0)#\(rawValue)" } ?? "helper#\(rawValue)"
  }
}
