import BPF

// How a conditional jump narrows the ranges of the scalars it compares,
// on the taken and on the fall-through edge: the kernel verifier's
// `reg_set_min_max`. An empty range means that edge cannot be taken.

extension ScalarRange {
  /// The ranges of `left` and `right` on the edge where `left OP right`
  /// is `holds` (the taken edge: true; fall-through: false). 64-bit
  /// comparisons only; a 32-bit one narrows only operands whose values fit
  /// in 31 bits, where both widths agree.
  static func narrowed(
    _ operation: JumpOperation, _ left: ScalarRange, _ right: ScalarRange, holds: Bool,
    wide: Bool
  ) -> (ScalarRange, ScalarRange) {
    if !wide {
      let fits = { (range: ScalarRange) in range.unsignedMaximum <= 0x7fff_ffff }
      guard fits(left), fits(right) else { return (left, right) }
    }
    guard let relation = Relation(operation, holds: holds) else { return (left, right) }
    return relation.narrow(left, right)
  }

  /// A comparison that holds on an edge, normalized to its true form.
  enum Relation {
    case equal, notEqual
    case unsignedLess(orEqual: Bool)
    case unsignedGreater(orEqual: Bool)
    case signedLess(orEqual: Bool)
    case signedGreater(orEqual: Bool)
    case someBitSet, noBitSet

    init?(_ operation: JumpOperation, holds: Bool) {
      switch (operation, holds) {
      case (.jeq, true), (.jne, false): self = .equal
      case (.jeq, false), (.jne, true): self = .notEqual
      case (.jgt, true), (.jle, false): self = .unsignedGreater(orEqual: false)
      case (.jge, true), (.jlt, false): self = .unsignedGreater(orEqual: true)
      case (.jlt, true), (.jge, false): self = .unsignedLess(orEqual: false)
      case (.jle, true), (.jgt, false): self = .unsignedLess(orEqual: true)
      case (.jsgt, true), (.jsle, false): self = .signedGreater(orEqual: false)
      case (.jsge, true), (.jslt, false): self = .signedGreater(orEqual: true)
      case (.jslt, true), (.jsge, false): self = .signedLess(orEqual: false)
      case (.jsle, true), (.jsgt, false): self = .signedLess(orEqual: true)
      case (.jset, true): self = .someBitSet
      case (.jset, false): self = .noBitSet
      default: return nil
      }
    }

    func narrow(_ a: ScalarRange, _ b: ScalarRange) -> (ScalarRange, ScalarRange) {
      switch self {
      case .equal:
        let both = a.intersection(b)
        return (both, both)
      case .notEqual:
        // Only a constant on one side at an end of the other's range helps.
        return (Self.excluding(b, from: a), Self.excluding(a, from: b))
      case .unsignedLess(let orEqual):
        let gap: UInt64 = orEqual ? 0 : 1
        guard orEqual || b.unsignedMaximum > 0, a.unsignedMinimum != .max || orEqual else {
          return (.empty, .empty)
        }
        return (
          a.intersection(.unsigned(0, b.unsignedMaximum &- gap)),
          b.intersection(.unsigned(a.unsignedMinimum &+ gap, .max))
        )
      case .unsignedGreater(let orEqual):
        let (b2, a2) = Relation.unsignedLess(orEqual: orEqual).narrow(b, a)
        return (a2, b2)
      case .signedLess(let orEqual):
        let gap: Int64 = orEqual ? 0 : 1
        guard orEqual || (b.signedMaximum > .min && a.signedMinimum < .max) else {
          return (.empty, .empty)
        }
        return (
          a.intersection(.signed(.min, b.signedMaximum - gap)),
          b.intersection(.signed(a.signedMinimum + gap, .max))
        )
      case .signedGreater(let orEqual):
        let (b2, a2) = Relation.signedLess(orEqual: orEqual).narrow(b, a)
        return (a2, b2)
      case .someBitSet:
        return (a, b)
      case .noBitSet:
        // Bits that are known set in the other operand are clear here.
        guard let mask = b.constantValue else { return (a, b) }
        return (a.intersection(ScalarRange(bits: KnownBits(value: 0, mask: ~mask))), b)
      }
    }

    private static func excluding(_ other: ScalarRange, from range: ScalarRange) -> ScalarRange {
      guard let value = other.constantValue else { return range }
      if range.constantValue == value { return .empty }
      var result = range
      if result.unsignedMinimum == value { result.unsignedMinimum += 1 }
      if result.unsignedMaximum == value { result.unsignedMaximum -= 1 }
      let signed = Int64(bitPattern: value)
      if result.signedMinimum == signed { result.signedMinimum += 1 }
      if result.signedMaximum == signed { result.signedMaximum -= 1 }
      return result.isEmpty ? result : result.synchronized()
    }
  }

  /// No value at all: the range of an operand on an edge that is never taken.
  static let empty: ScalarRange = {
    var range = ScalarRange.unknown
    range.unsignedMinimum = 1
    range.unsignedMaximum = 0
    return range
  }()
}
