/// What is known about the individual bits of a 64-bit scalar: the
/// kernel verifier's "tnum" (tristate number). A bit set in ``mask`` is
/// unknown; every other bit has the value it has in ``value``.
///
/// The operations follow the definitions in the kernel's
/// `kernel/bpf/tnum.c` (written here from the algebra, not copied): each
/// result covers every value the operation can produce from values its
/// operands cover.
public struct KnownBits: Hashable, Sendable {
  /// The known bits' values (zero where unknown).
  public var value: UInt64
  /// The unknown bits.
  public var mask: UInt64

  /// Bits with the given values and unknown bits (`value & mask` is
  /// cleared).
  public init(value: UInt64, mask: UInt64) {
    self.value = value & ~mask
    self.mask = mask
  }

  /// A constant: every bit known.
  public static func constant(_ value: UInt64) -> KnownBits { KnownBits(value: value, mask: 0) }

  /// Nothing known.
  public static let unknown = KnownBits(value: 0, mask: .max)

  /// Whether every bit is known.
  public var isConstant: Bool { mask == 0 }

  /// The smallest and largest unsigned values the bits allow.
  public var unsignedMinimum: UInt64 { value }
  public var unsignedMaximum: UInt64 { value | mask }

  /// The tightest bits covering every value in `minimum...maximum`: the
  /// common high bits are known, everything from the highest differing
  /// bit down is not.
  public static func range(_ minimum: UInt64, _ maximum: UInt64) -> KnownBits {
    let differing = minimum ^ maximum
    guard differing != 0 else { return .constant(minimum) }
    let bits = 64 - differing.leadingZeroBitCount
    if bits >= 64 { return .unknown }
    let low = (UInt64(1) << UInt64(bits)) - 1
    return KnownBits(value: minimum & ~low, mask: low)
  }

  /// The low 32 bits (a 32-bit operation's zero-extended result).
  public var truncatedTo32: KnownBits {
    KnownBits(value: value & 0xffff_ffff, mask: mask & 0xffff_ffff)
  }

  /// Bits that both descriptions allow (the values in both).
  public func intersection(_ other: KnownBits) -> KnownBits {
    let mask = self.mask & other.mask
    return KnownBits(value: (value | other.value) & ~mask, mask: mask)
  }

  /// Bits covering every value of either side (where two paths meet).
  public func union(_ other: KnownBits) -> KnownBits {
    let mask = self.mask | other.mask | (value ^ other.value)
    return KnownBits(value: value & ~mask, mask: mask)
  }

  static func + (left: KnownBits, right: KnownBits) -> KnownBits {
    let masks = left.mask &+ right.mask
    let values = left.value &+ right.value
    let carries = (masks &+ values) ^ values
    let unknown = carries | left.mask | right.mask
    return KnownBits(value: values & ~unknown, mask: unknown)
  }

  static func - (left: KnownBits, right: KnownBits) -> KnownBits {
    let difference = left.value &- right.value
    let borrows = (difference &+ left.mask) ^ (difference &- right.mask)
    let unknown = borrows | left.mask | right.mask
    return KnownBits(value: difference & ~unknown, mask: unknown)
  }

  static func & (left: KnownBits, right: KnownBits) -> KnownBits {
    let value = left.value & right.value
    let possible = (left.value | left.mask) & (right.value | right.mask)
    return KnownBits(value: value, mask: possible & ~value)
  }

  static func | (left: KnownBits, right: KnownBits) -> KnownBits {
    let value = left.value | right.value
    return KnownBits(value: value, mask: (left.mask | right.mask) & ~value)
  }

  static func ^ (left: KnownBits, right: KnownBits) -> KnownBits {
    let unknown = left.mask | right.mask
    return KnownBits(value: (left.value ^ right.value) & ~unknown, mask: unknown)
  }

  /// The product: partial products of the known bits, and for every bit
  /// of `left` that is unknown or set, the other side's unknown bits.
  static func * (left: KnownBits, right: KnownBits) -> KnownBits {
    var (a, b) = (left, right)
    var unknownPart = KnownBits.constant(0)
    while a.value != 0 || a.mask != 0 {
      if a.value & 1 != 0 {
        unknownPart = unknownPart + KnownBits(value: 0, mask: b.mask)
      } else if a.mask & 1 != 0 {
        unknownPart = unknownPart + KnownBits(value: 0, mask: b.value | b.mask)
      }
      a = a.shiftedRight(1)
      b = b.shiftedLeft(1)
    }
    return KnownBits.constant(left.value &* right.value) + unknownPart
  }

  /// Shifted left by `count` (0...63); new low bits are known zeros.
  public func shiftedLeft(_ count: UInt64) -> KnownBits {
    KnownBits(value: value << count, mask: mask << count)
  }

  /// Shifted right by `count` (0...63), zeros coming in.
  public func shiftedRight(_ count: UInt64) -> KnownBits {
    KnownBits(value: value >> count, mask: mask >> count)
  }

  /// Shifted right by `count` (0...63), the sign bit coming in.
  public func shiftedRightArithmetic(_ count: UInt64) -> KnownBits {
    KnownBits(
      value: UInt64(bitPattern: Int64(bitPattern: value) >> Int64(count)),
      mask: UInt64(bitPattern: Int64(bitPattern: mask) >> Int64(count)))
  }
}
