import BPF

/// How the software datapath shares one map of the user's program with
/// the kernel (docs/DESIGN.md, "Maps on the software datapath"): the one
/// rule the datapath applies and `map dump` reports. Every map but a
/// program array is the kernel's: what a program changes on one datapath
/// the other sees, and `xdpbatch map`, bpftool and exporters see both.
public enum MapSharing: String, Hashable, Sendable, Codable {
  /// The engines map the kernel's pages (an ARRAY created with
  /// `BPF_F_MMAPABLE`): the program reads and writes the kernel's bytes.
  case mapped
  /// Each queue's engine keeps a view of the kernel's map and exchanges
  /// it every ``periodMilliseconds``: its changes go into the kernel's
  /// map as deltas (``DeltaFold``), then the kernel's entries come back
  /// (per-CPU maps, hash maps, LPM tries, arrays without
  /// `BPF_F_MMAPABLE`).
  case exchanged
  /// The engines read the kernel's entries every ``periodMilliseconds``
  /// (DEVMAP, DEVMAP_HASH, CPUMAP: programs cannot write them).
  case read
  /// XSKMAP: which keys hold a socket, asked of the kernel by a probe
  /// program every ``periodMilliseconds`` (user space cannot read it).
  case probed
  /// The engines keep their own (a PROG_ARRAY holds programs, which the
  /// engines cannot take from the kernel; a map whose records do not fit
  /// an exchange).
  case engineOwn = "engine-own"

  /// How often the engines exchange with the kernel's maps.
  public static let periodMilliseconds = 50

  /// How a map of `type` is shared; `memoryMappable` when it was created
  /// with `BPF_F_MMAPABLE`.
  public init(_ type: MapType, memoryMappable: Bool) {
    switch type {
    case .array where memoryMappable: self = .mapped
    case .array, .perCPUArray, .hash, .perCPUHash, .lruHash, .lruPerCPUHash, .lpmTrie:
      self = .exchanged
    case .devmap, .devmapHash, .cpumap: self = .read
    case .xskmap: self = .probed
    default: self = .engineOwn
    }
  }

  /// Whether the engines' copy is the kernel's map (at most one period
  /// behind); false for ``engineOwn``.
  public var isShared: Bool { self != .engineOwn }
}
