import BPF
import Testing

@testable import Rewriter

/// The scalar ranges are sound: every concrete result of an operation on
/// values inside the operands' ranges lies inside the computed range, and
/// a comparison's narrowing never drops a value for which it holds.
@Suite struct ScalarRangeTests {
  /// A seeded generator (splitmix64).
  struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9e37_79b9_7f4a_7c15
      var z = state
      z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
      z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
      return z ^ (z >> 31)
    }
    /// Small, 32-bit, negative and huge values, often.
    mutating func interesting() -> UInt64 {
      switch next() % 6 {
      case 0: return next() % 64
      case 1: return next() & 0xffff_ffff
      case 2: return UInt64(bitPattern: -Int64(next() % 1000))
      case 3: return next() % 4096
      default: return next()
      }
    }
    /// A range around two values, and a value inside it.
    mutating func range() -> (ScalarRange, UInt64) {
      let (a, b) = (interesting(), interesting())
      let range: ScalarRange
      switch next() % 4 {
      case 0: range = .constant(a)
      case 1: range = .unsigned(min(a, b), max(a, b))
      case 2:
        let (x, y) = (Int64(bitPattern: a), Int64(bitPattern: b))
        range = .signed(min(x, y), max(x, y))
      default: range = ScalarRange(bits: KnownBits(value: a, mask: b & 0xff0f))
      }
      // A member: try the ends and the known bits with random unknown bits.
      let candidates = [
        range.unsignedMinimum, range.unsignedMaximum, UInt64(bitPattern: range.signedMinimum),
        UInt64(bitPattern: range.signedMaximum), range.bits.value | (next() & range.bits.mask),
      ]
      let member = candidates.first { range.contains($0) } ?? range.unsignedMinimum
      return (range, member)
    }
  }

  static let operations: [ArithmeticOperation] = [
    .add, .sub, .mul, .and, .or, .xor, .lsh, .rsh, .arsh, .neg, .mov,
  ]

  static func concrete(_ operation: ArithmeticOperation, _ x: UInt64, _ y: UInt64, wide: Bool)
    -> UInt64?
  {
    let (a, b) = wide ? (x, y) : (x & 0xffff_ffff, y & 0xffff_ffff)
    let limit: UInt64 = wide ? 64 : 32
    let result: UInt64
    switch operation {
    case .add: result = a &+ b
    case .sub: result = a &- b
    case .mul: result = a &* b
    case .and: result = a & b
    case .or: result = a | b
    case .xor: result = a ^ b
    case .neg: result = 0 &- a
    case .mov: result = b
    case .lsh, .rsh, .arsh:
      guard b < limit else { return nil }
      if operation == .lsh {
        result = a << b
      } else if operation == .rsh {
        result = a >> b
      } else {
        result =
          wide
          ? UInt64(bitPattern: Int64(bitPattern: a) >> Int64(b))
          : UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: a) >> Int32(b)))
      }
    default: return nil
    }
    return wide ? result : result & 0xffff_ffff
  }

  @Test func arithmeticCoversEveryConcreteResult() {
    var random = Random(state: 12)
    for _ in 0..<20_000 {
      let (left, x) = random.range()
      var (right, y) = random.range()
      let operation = Self.operations[Int(random.next() % UInt64(Self.operations.count))]
      if [.lsh, .rsh, .arsh].contains(operation) {
        y = random.next() % 64
        right = .constant(y)
      }
      for wide in [true, false] {
        guard let value = Self.concrete(operation, x, y, wide: wide) else { continue }
        let result = ScalarRange.apply(operation, left, right, wide: wide)
        #expect(
          result.contains(value),
          "\(operation) wide=\(wide) \(x) in \(left) with \(y) in \(right) = \(value), not in \(result)"
        )
      }
    }
  }

  @Test func narrowingKeepsEveryValueForWhichTheComparisonHolds() {
    let operations: [JumpOperation] = [
      .jeq, .jne, .jgt, .jge, .jlt, .jle, .jsgt, .jsge, .jslt, .jsle, .jset,
    ]
    var random = Random(state: 99)
    for _ in 0..<20_000 {
      let (left, x) = random.range()
      let (right, y) = random.range()
      let operation = operations[Int(random.next() % UInt64(operations.count))]
      let (sx, sy) = (Int64(bitPattern: x), Int64(bitPattern: y))
      let holds: Bool
      switch operation {
      case .jeq: holds = x == y
      case .jne: holds = x != y
      case .jgt: holds = x > y
      case .jge: holds = x >= y
      case .jlt: holds = x < y
      case .jle: holds = x <= y
      case .jsgt: holds = sx > sy
      case .jsge: holds = sx >= sy
      case .jslt: holds = sx < sy
      case .jsle: holds = sx <= sy
      default: holds = x & y != 0
      }
      let (a, b) = ScalarRange.narrowed(operation, left, right, holds: holds, wide: true)
      #expect(
        a.contains(x) && b.contains(y),
        "\(operation) holds=\(holds): \(x) in \(left), \(y) in \(right) -> \(a), \(b)")
    }
  }

  @Test func boundsAndBitsNarrowEachOther() {
    let masked = ScalarRange.apply(.and, .unknown, .constant(63), wide: true)
    #expect(masked.unsignedMaximum == 63 && masked.signedMinimum == 0)
    let shifted = ScalarRange.apply(.lsh, masked, .constant(3), wide: true)
    #expect(
      shifted.unsignedMaximum == 504 && shifted.bits.value & 7 == 0 && shifted.bits.mask & 7 == 0)
    let (below, _) = ScalarRange.narrowed(.jlt, .unknown, .constant(16), holds: true, wide: true)
    #expect(below.unsignedMaximum == 15 && below.signedMinimum == 0)
    let (never, _) = ScalarRange.narrowed(
      .jgt, .unsigned(0, 10), .constant(10), holds: true, wide: true)
    #expect(never.isEmpty)
    #expect(KnownBits.range(16, 31) == KnownBits(value: 16, mask: 15))
  }
}

extension ScalarRange {
  /// Whether `value` satisfies every bound and the known bits.
  func contains(_ value: UInt64) -> Bool {
    !isEmpty && value >= unsignedMinimum && value <= unsignedMaximum
      && Int64(bitPattern: value) >= signedMinimum && Int64(bitPattern: value) <= signedMaximum
      && value & ~bits.mask == bits.value
  }
}
