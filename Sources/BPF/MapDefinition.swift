/// A BPF map as an object file declares it: what the loader creates before
/// the program, and what the engine builds its own maps from.
public struct MapDefinition: Hashable, Sendable {
  /// The map's symbol name in the object (`rxcnt`, `tx_port`, ...).
  public var name: String
  /// The kind of map.
  public var type: MapType
  /// Key size in bytes.
  public var keySize: UInt32
  /// Value size in bytes.
  public var valueSize: UInt32
  /// Maximum number of entries.
  public var maxEntries: UInt32
  /// `BPF_F_*` creation flags.
  public var flags: UInt32
  /// For maps that back global data sections (`.data`, `.rodata`, `.bss`):
  /// the initial contents of the single value, as libbpf creates them.
  public var initialValue: [UInt8]?

  /// Describes a map.
  public init(
    name: String, type: MapType, keySize: UInt32, valueSize: UInt32, maxEntries: UInt32,
    flags: UInt32 = 0, initialValue: [UInt8]? = nil
  ) {
    self.name = name
    self.type = type
    self.keySize = keySize
    self.valueSize = valueSize
    self.maxEntries = maxEntries
    self.flags = flags
    self.initialValue = initialValue
  }
}

/// The kernel's `enum bpf_map_type`, by value. Unknown values are kept so
/// that an object naming a newer map type still reads; the engine and the
/// loader decide whether they support it.
public struct MapType: RawRepresentable, Hashable, Sendable {
  /// The `BPF_MAP_TYPE_*` value.
  public var rawValue: UInt32
  /// Wraps a `BPF_MAP_TYPE_*` value.
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  public static let hash = MapType(rawValue: 1)
  public static let array = MapType(rawValue: 2)
  public static let programArray = MapType(rawValue: 3)
  public static let perfEventArray = MapType(rawValue: 4)
  public static let perCPUHash = MapType(rawValue: 5)
  public static let perCPUArray = MapType(rawValue: 6)
  public static let lruHash = MapType(rawValue: 9)
  public static let lruPerCPUHash = MapType(rawValue: 10)
  public static let lpmTrie = MapType(rawValue: 11)
  public static let devmap = MapType(rawValue: 14)
  public static let cpumap = MapType(rawValue: 16)
  public static let xskmap = MapType(rawValue: 17)
  public static let devmapHash = MapType(rawValue: 25)
  public static let ringbuf = MapType(rawValue: 27)

  private static let names: [UInt32: String] = [
    1: "hash", 2: "array", 3: "prog_array", 4: "perf_event_array", 5: "percpu_hash",
    6: "percpu_array", 9: "lru_hash", 10: "lru_percpu_hash", 11: "lpm_trie", 14: "devmap",
    16: "cpumap",
    17: "xskmap", 25: "devmap_hash", 27: "ringbuf",
  ]

  /// Whether each CPU has its own copy of every value.
  public var isPerCPU: Bool {
    self == .perCPUHash || self == .perCPUArray || self == .lruPerCPUHash
  }
}

extension MapType: CustomStringConvertible {
  /// The name `bpftool` uses (`percpu_array`), if the type is known.
  public var name: String? { Self.names[rawValue] }

  /// The name `bpftool` uses (`percpu_array`), or `type N` when unknown.
  public var description: String { name ?? "type \(rawValue)" }
}

extension MapDefinition {
  /// `BPF_F_RDONLY_PROG`: programs may read the map's values, not write them.
  public static let readOnlyForPrograms: UInt32 = 1 << 7
  /// `BPF_F_WRONLY_PROG`: programs may write the map's values, not read them.
  public static let writeOnlyForPrograms: UInt32 = 1 << 8

  /// Whether a program may store into a value it reached through this
  /// map: not when the map was created `BPF_F_RDONLY_PROG` (libbpf's
  /// `.rodata`), which DEVMAP and DEVMAP_HASH always are (`dev_map_init_map`
  /// in kernel/bpf/devmap.c sets it: a lookup hands the program the
  /// kernel's own entry), nor on XSKMAP, whose lookup gives a read-only
  /// `struct bpf_xdp_sock`, nor on CPUMAP, which a program cannot look up.
  public var programsMayWrite: Bool {
    flags & Self.readOnlyForPrograms == 0 && type != .devmap && type != .devmapHash
      && type != .xskmap && type != .cpumap
  }

  /// Whether a program may load from a value it reached through this map:
  /// not when the map was created `BPF_F_WRONLY_PROG`.
  public var programsMayRead: Bool { flags & Self.writeOnlyForPrograms == 0 }

  /// Whether the map's creation flags forbid programs to change it: the
  /// verifier's test in `record_func_map` (`BPF_F_RDONLY_PROG`, which
  /// DEVMAP and DEVMAP_HASH always have).
  public var isReadOnlyForPrograms: Bool {
    flags & Self.readOnlyForPrograms != 0 || type == .devmap || type == .devmapHash
  }
}
