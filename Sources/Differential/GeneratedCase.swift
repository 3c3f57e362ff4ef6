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
