import BPF

/// One generated program with what it runs on: its maps and the packets.
public struct GeneratedCase: Sendable {
  /// The linked XDP program (main body, then subprograms).
  public var program: Program
  /// The object's map table.
  public var maps: [MapDefinition]
  /// The packets, in order, each run through the program.
  public var packets: [[UInt8]]
  /// How it was built.
  public var flavor: CaseGenerator.Flavor
  /// Where the program goes when a batch form is rewritten from it.
  public var batch: BatchVariantChoice

  /// Whether the kernel can be asked about it: built to pass the
  /// verifier, with deterministic helpers only (the kernel's verdict on a
  /// program it refuses is "not comparable", never agreement).
  public var isKernelComparable: Bool { flavor == .verifiable }

  /// The case with packets added until it has `count` (unchanged when it
  /// has that many): a long campaign runs each program on more packets,
  /// as preparing the program in both engines and rewriting it costs
  /// more than running it. Their lengths follow the generator's rule (14
  /// to 200 bytes; 0 to 13 too, one in ten, for unrestricted cases) and
  /// their bytes come from a generator seeded with the case's own packets,
  /// so a case always gets the same ones (an input reproduces).
  public func extendingPackets(to count: Int) -> GeneratedCase {
    guard packets.count < count else { return self }
    var state: UInt64 = 0xcbf2_9ce4_8422_2325
    for packet in packets {
      for byte in packet { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
      state = (state ^ UInt64(packet.count)) &* 0x100_0000_01b3
    }
    func next() -> UInt64 {  // splitmix64
      state &+= 0x9e37_79b9_7f4a_7c15
      var z = state
      z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
      z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
      return z ^ (z >> 31)
    }
    var extended = self
    while extended.packets.count < count {
      let length =
        flavor == .unrestricted && next() % 10 == 0 ? Int(next() % 14) : 14 + Int(next() % 187)
      var bytes: [UInt8] = []
      bytes.reserveCapacity(length)
      while bytes.count < length {
        withUnsafeBytes(of: next()) { bytes += $0.prefix(length - bytes.count) }
      }
      extended.packets.append(bytes)
    }
    return extended
  }

  /// The batch form's shape.
  public struct BatchVariantChoice: Sendable, Hashable {
    public var strategy: BatchStrategy
    public var bound: BatchBound
    public var size: Int
  }

  /// The maps every generated program may use, by index.
  public static let maps: [MapDefinition] = [
    MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 16, maxEntries: 4),
    MapDefinition(name: "flows", type: .hash, keySize: 8, valueSize: 16, maxEntries: 6),
    MapDefinition(name: "stats", type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 2),
    MapDefinition(name: "ports", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 4),
    MapDefinition(name: "jumps", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 2),
  ]
  static let arrayMap = 0
  static let hashMap = 1
  static let perCPUMap = 2
  static let deviceMap = 3
  static let programMap = 4
}
