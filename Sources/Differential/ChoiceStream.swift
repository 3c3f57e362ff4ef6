/// The choices a generator makes, read from bytes: a fuzzer's input
/// (libFuzzer mutates the bytes, so every input is a valid sequence of
/// choices) or a seeded stream (`ChoiceStream(seed:count:)`). Once the
/// bytes run out every choice is the lowest it may be, so short inputs
/// give short, simple programs.
public struct ChoiceStream: Sendable {
  private let bytes: [UInt8]
  private var position = 0

  /// Choices from `bytes`.
  public init(_ bytes: [UInt8]) { self.bytes = bytes }

  /// `count` bytes from SplitMix64 seeded with `seed`.
  public init(seed: UInt64, count: Int = 768) {
    var state = seed
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count + 8)
    while bytes.count < count {
      state &+= 0x9e37_79b9_7f4a_7c15
      var z = state
      z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
      z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
      z ^= z >> 31
      withUnsafeBytes(of: z) { bytes.append(contentsOf: $0) }
    }
    self.bytes = Array(bytes.prefix(count))
  }

  /// Whether any byte is left.
  public var isExhausted: Bool { position >= bytes.count }

  /// The next byte (0 once exhausted).
  public mutating func byte() -> UInt8 {
    guard position < bytes.count else { return 0 }
    defer { position += 1 }
    return bytes[position]
  }

  /// A value in `range` (its lower bound once exhausted).
  public mutating func int(_ range: ClosedRange<Int>) -> Int {
    let span = UInt64(range.upperBound - range.lowerBound)
    guard span > 0 else { return range.lowerBound }
    var raw: UInt64 = 0
    let width = span < 0x100 ? 1 : span < 0x1_0000 ? 2 : span < 0x1_0000_0000 ? 4 : 8
    for _ in 0..<width { raw = raw << 8 | UInt64(byte()) }
    return range.lowerBound + Int(raw % (span + 1))
  }

  /// True with roughly `percent` percent (false once exhausted).
  public mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent && !isExhausted }

  /// One of `options` (the first once exhausted).
  public mutating func pick<T>(_ options: [T]) -> T { options[int(0...(options.count - 1))] }

  /// Eight bytes as a 64-bit value.
  public mutating func word() -> UInt64 {
    (0..<8).reduce(UInt64(0)) { value, _ in value << 8 | UInt64(byte()) }
  }

  /// A 64-bit value that often sits on an edge (0, 1, -1, sign bits,
  /// 32-bit edges) and otherwise is any.
  public mutating func interesting() -> UInt64 {
    let edges: [UInt64] = [
      0, 1, 2, 7, 0xff, 0x7f, 0x80, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff,
      0x1_0000_0000, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff,
      0xffff_ffff_ffff_fffe, 0xffff_ffff_8000_0000,
    ]
    return chance(40) ? pick(edges) : word()
  }
}
