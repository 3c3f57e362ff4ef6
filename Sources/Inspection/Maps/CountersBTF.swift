import BPF

/// The types of xdpbatch's action counters (`xdp_stats_map`), which the
/// loader creates without BTF: key `enum xdp_action`, value
/// `struct xdp_stats_record { __u64 packets; __u64 bytes; }`, as a small
/// BTF blob built here so that `map dump` shows them by name.
enum CountersBTF {
  /// The counters map's kernel name.
  static let mapName = "xdp_stats_map"

  /// Type ids in ``btf``.
  static let keyType: UInt32 = 3
  static let valueType: UInt32 = 2

  /// The map's key and value types.
  static let types = MapTypes(
    format: BTFValueFormat(btf: btf), keyType: keyType, valueType: valueType, source: .counters)

  /// `[1] INT __u64`, `[2] STRUCT xdp_stats_record`, `[3] ENUM xdp_action`.
  static let btf: BTF? = {
    var strings: [UInt8] = [0]
    func name(_ text: String) -> UInt32 {
      let offset = UInt32(strings.count)
      strings += Array(text.utf8) + [0]
      return offset
    }
    var types: [UInt32] = []
    // [1] __u64: INT, size 8, 64 bits unsigned.
    types += [name("__u64"), UInt32(BTFKind.integer.rawValue) << 24, 8, 64]
    // [2] struct xdp_stats_record, two members.
    types += [name("xdp_stats_record"), UInt32(BTFKind.structure.rawValue) << 24 | 2, 16]
    types += [name("packets"), 1, 0, name("bytes"), 1, 64]
    // [3] enum xdp_action, 4 bytes, five enumerators.
    types += [name("xdp_action"), UInt32(BTFKind.enumeration.rawValue) << 24 | 5, 4]
    for action in XDPAction.allCases {
      types += [name("XDP_" + action.name.uppercased()), UInt32(action.rawValue)]
    }
    let typeBytes = types.flatMap { word in
      (0..<4).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) }
    }
    func le32(_ value: Int) -> [UInt8] {
      (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }
    let header: [UInt8] =
      [0x9f, 0xeb, 1, 0] + le32(24) + le32(0) + le32(typeBytes.count) + le32(typeBytes.count)
      + le32(strings.count)
    return try? BTF(bytes: header + typeBytes + strings, name: "xdp_stats_map types")
  }()
}
