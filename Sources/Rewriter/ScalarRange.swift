/// What is known about a scalar's value, as the kernel verifier tracks it:
/// unsigned and signed bounds and the known bits, each narrowing the
/// others (``synchronized()``, the verifier's `reg_bounds_sync`).
///
/// The stack-frame analysis needs it for one thing: the offset a variable
/// adds to a stack pointer (`buf[i & 63]`, a loop index), so that the
/// bytes such an access may touch are known.
public struct ScalarRange: Hashable, Sendable {
  /// Smallest value, unsigned.
  public var unsignedMinimum: UInt64
  /// Largest value, unsigned.
  public var unsignedMaximum: UInt64
  /// Smallest value, signed.
  public var signedMinimum: Int64
  /// Largest value, signed.
  public var signedMaximum: Int64
  /// The bits known to be 0 or 1.
  public var bits: KnownBits

  /// A range from its parts, synchronized.
  public init(
    unsignedMinimum: UInt64 = 0, unsignedMaximum: UInt64 = .max,
    signedMinimum: Int64 = .min, signedMaximum: Int64 = .max, bits: KnownBits = .unknown
  ) {
    self.unsignedMinimum = unsignedMinimum
    self.unsignedMaximum = unsignedMaximum
    self.signedMinimum = signedMinimum
    self.signedMaximum = signedMaximum
    self.bits = bits
    self = synchronized()
  }

  /// Any 64-bit value.
  public static let unknown = ScalarRange()

  /// Any zero-extended 32-bit value.
  public static let unknown32 = ScalarRange(unsignedMaximum: 0xffff_ffff)

  /// Exactly `value`.
  public static func constant(_ value: UInt64) -> ScalarRange {
    ScalarRange(
      unsignedMinimum: value, unsignedMaximum: value, signedMinimum: Int64(bitPattern: value),
      signedMaximum: Int64(bitPattern: value), bits: .constant(value))
  }

  /// Every value in `minimum...maximum` (unsigned).
  public static func unsigned(_ minimum: UInt64, _ maximum: UInt64) -> ScalarRange {
    ScalarRange(unsignedMinimum: minimum, unsignedMaximum: maximum)
  }

  /// Every value in `minimum...maximum` (signed).
  public static func signed(_ minimum: Int64, _ maximum: Int64) -> ScalarRange {
    ScalarRange(signedMinimum: minimum, signedMaximum: maximum)
  }

  /// Whether no value satisfies every bound (a branch that cannot be taken).
  public var isEmpty: Bool {
    unsignedMinimum > unsignedMaximum || signedMinimum > signedMaximum
      || bits.unsignedMinimum > unsignedMaximum || bits.unsignedMaximum < unsignedMinimum
  }

  /// The single value, if the range holds one.
  public var constantValue: UInt64? {
    unsignedMinimum == unsignedMaximum ? unsignedMinimum : nil
  }

  /// Whether every value fits in 32 bits unsigned.
  var fitsIn32: Bool { unsignedMaximum <= 0xffff_ffff }

  /// Each kind of bound narrowed by the others: bounds from the known
  /// bits, signed bounds from unsigned ones where the unsigned range does
  /// not cross the sign boundary (and the converse), then the known bits
  /// from the bounds, then the bounds once more from the bits.
  public func synchronized() -> ScalarRange {
    var range = self
    range.boundsFromBits()
    range.deduceBounds()
    range.bits = range.bits.intersection(.range(range.unsignedMinimum, range.unsignedMaximum))
    range.boundsFromBits()
    return range
  }

  private mutating func boundsFromBits() {
    let sign: UInt64 = 1 << 63
    signedMinimum = max(signedMinimum, Int64(bitPattern: bits.value | (bits.mask & sign)))
    signedMaximum = min(signedMaximum, Int64(bitPattern: bits.value | (bits.mask & ~sign)))
    unsignedMinimum = max(unsignedMinimum, bits.unsignedMinimum)
    unsignedMaximum = min(unsignedMaximum, bits.unsignedMaximum)
  }

  private mutating func deduceBounds() {
    // Signed bounds on one side of zero are unsigned bounds too.
    if signedMinimum >= 0 || signedMaximum < 0 {
      unsignedMinimum = max(unsignedMinimum, UInt64(bitPattern: signedMinimum))
      unsignedMaximum = min(unsignedMaximum, UInt64(bitPattern: signedMaximum))
    }
    // Unsigned bounds that do not cross 2^63 are signed bounds too.
    if Int64(bitPattern: unsignedMinimum) <= Int64(bitPattern: unsignedMaximum) {
      signedMinimum = max(signedMinimum, Int64(bitPattern: unsignedMinimum))
      signedMaximum = min(signedMaximum, Int64(bitPattern: unsignedMaximum))
    }
  }

  /// The range covering both (where two paths meet).
  public func joined(with other: ScalarRange) -> ScalarRange {
    ScalarRange(
      unsignedMinimum: min(unsignedMinimum, other.unsignedMinimum),
      unsignedMaximum: max(unsignedMaximum, other.unsignedMaximum),
      signedMinimum: min(signedMinimum, other.signedMinimum),
      signedMaximum: max(signedMaximum, other.signedMaximum), bits: bits.union(other.bits))
  }

  /// The values in both ranges.
  public func intersection(_ other: ScalarRange) -> ScalarRange {
    var range = self
    if (bits.value ^ other.bits.value) & ~(bits.mask | other.bits.mask) != 0 {
      // A bit known to be 1 on one side and 0 on the other: no value.
      range.unsignedMinimum = 1
      range.unsignedMaximum = 0
      return range
    }
    range.unsignedMinimum = max(unsignedMinimum, other.unsignedMinimum)
    range.unsignedMaximum = min(unsignedMaximum, other.unsignedMaximum)
    range.signedMinimum = max(signedMinimum, other.signedMinimum)
    range.signedMaximum = min(signedMaximum, other.signedMaximum)
    range.bits = bits.intersection(other.bits)
    return range.isEmpty ? range : range.synchronized()
  }

  /// The zero-extended low 32 bits: exact when the value fits, otherwise
  /// whatever the known bits allow.
  public var truncatedTo32: ScalarRange {
    if fitsIn32 { return self }
    return ScalarRange(unsignedMaximum: 0xffff_ffff, bits: bits.truncatedTo32)
  }
}

extension ScalarRange: CustomStringConvertible {
  /// `[min, max]` signed, or the constant.
  public var description: String {
    if let value = constantValue { return String(Int64(bitPattern: value)) }
    return "[\(signedMinimum), \(signedMaximum)]"
  }
}
