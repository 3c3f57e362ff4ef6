import BPF

// How ALU operations move a scalar's range, following the cases of the
// kernel verifier's `adjust_scalar_min_max_vals`: add, sub, mul, and, or,
// xor and shifts by a constant keep bounds; anything else (division,
// modulo, byte swaps, shifts by a register) gives an unknown value.

extension ScalarRange {
  /// The range of `left OP right`, as a 64-bit operation, or a 32-bit one
  /// (operands and result zero-extended from their low 32 bits).
  static func apply(
    _ operation: ArithmeticOperation, _ left: ScalarRange, _ right: ScalarRange, wide: Bool
  ) -> ScalarRange {
    guard wide else {
      let result = apply64(operation, left.truncatedTo32, right.truncatedTo32, shiftLimit: 32)
      return result.truncatedTo32
    }
    return apply64(operation, left, right, shiftLimit: 64)
  }

  private static func apply64(
    _ operation: ArithmeticOperation, _ a: ScalarRange, _ b: ScalarRange, shiftLimit: UInt64
  ) -> ScalarRange {
    switch operation {
    case .mov: return b
    case .add: return sum(a, b)
    case .sub: return difference(a, b)
    case .neg: return difference(.constant(0), a)
    case .mul: return product(a, b)
    case .and:
      let bits = a.bits & b.bits
      return ScalarRange(
        unsignedMinimum: bits.unsignedMinimum,
        unsignedMaximum: min(a.unsignedMaximum, b.unsignedMaximum), bits: bits)
    case .or:
      let bits = a.bits | b.bits
      return ScalarRange(
        unsignedMinimum: max(a.unsignedMinimum, b.unsignedMinimum),
        unsignedMaximum: bits.unsignedMaximum, bits: bits)
    case .xor:
      return ScalarRange(bits: a.bits ^ b.bits)
    case .lsh, .rsh, .arsh:
      guard let count = b.constantValue, count < shiftLimit else { return .unknown }
      return shifted(a, operation, by: count, width: shiftLimit)
    case .div, .mod, .end:
      return .unknown
    }
  }

  private static func sum(_ a: ScalarRange, _ b: ScalarRange) -> ScalarRange {
    var result = ScalarRange(bits: a.bits + b.bits)
    let (low, lowOverflow) = a.unsignedMinimum.addingReportingOverflow(b.unsignedMinimum)
    let (high, highOverflow) = a.unsignedMaximum.addingReportingOverflow(b.unsignedMaximum)
    if !lowOverflow && !highOverflow {
      result.unsignedMinimum = max(result.unsignedMinimum, low)
      result.unsignedMaximum = min(result.unsignedMaximum, high)
    }
    let (signedLow, signedLowOverflow) = a.signedMinimum.addingReportingOverflow(b.signedMinimum)
    let (signedHigh, signedHighOverflow) = a.signedMaximum.addingReportingOverflow(
      b.signedMaximum)
    if !signedLowOverflow && !signedHighOverflow {
      result.signedMinimum = max(result.signedMinimum, signedLow)
      result.signedMaximum = min(result.signedMaximum, signedHigh)
    }
    return result.synchronized()
  }

  private static func difference(_ a: ScalarRange, _ b: ScalarRange) -> ScalarRange {
    var result = ScalarRange(bits: a.bits - b.bits)
    if a.unsignedMinimum >= b.unsignedMaximum {
      result.unsignedMinimum = max(result.unsignedMinimum, a.unsignedMinimum - b.unsignedMaximum)
      result.unsignedMaximum = min(result.unsignedMaximum, a.unsignedMaximum - b.unsignedMinimum)
    }
    let (low, lowOverflow) = a.signedMinimum.subtractingReportingOverflow(b.signedMaximum)
    let (high, highOverflow) = a.signedMaximum.subtractingReportingOverflow(b.signedMinimum)
    if !lowOverflow && !highOverflow {
      result.signedMinimum = max(result.signedMinimum, low)
      result.signedMaximum = min(result.signedMaximum, high)
    }
    return result.synchronized()
  }

  private static func product(_ a: ScalarRange, _ b: ScalarRange) -> ScalarRange {
    var result = ScalarRange(bits: a.bits * b.bits)
    let (high, overflow) = a.unsignedMaximum.multipliedReportingOverflow(by: b.unsignedMaximum)
    if !overflow {
      result.unsignedMinimum = max(result.unsignedMinimum, a.unsignedMinimum &* b.unsignedMinimum)
      result.unsignedMaximum = min(result.unsignedMaximum, high)
    }
    return result.synchronized()
  }

  private static func shifted(
    _ a: ScalarRange, _ operation: ArithmeticOperation, by count: UInt64, width: UInt64
  ) -> ScalarRange {
    switch operation {
    case .lsh:
      var result = ScalarRange(bits: a.bits.shiftedLeft(count))
      if count == 0 || a.unsignedMaximum >> (64 - count) == 0 {
        result.unsignedMinimum = max(result.unsignedMinimum, a.unsignedMinimum << count)
        result.unsignedMaximum = min(result.unsignedMaximum, a.unsignedMaximum << count)
      }
      return result.synchronized()
    case .rsh:
      return ScalarRange(
        unsignedMinimum: a.unsignedMinimum >> count, unsignedMaximum: a.unsignedMaximum >> count,
        bits: a.bits.shiftedRight(count))
    default:
      // An arithmetic shift of a 32-bit value works on its sign bit 31.
      guard width == 64 else { return .unknown32 }
      return ScalarRange(
        signedMinimum: a.signedMinimum >> Int64(count),
        signedMaximum: a.signedMaximum >> Int64(count),
        bits: a.bits.shiftedRightArithmetic(count))
    }
  }
}
