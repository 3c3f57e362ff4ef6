/// One of the eBPF machine's eleven 64-bit registers.
///
/// R0 holds return values, R1–R5 carry call arguments (and are clobbered by
/// calls), R6–R9 are preserved across calls, and R10 is the read-only frame
/// pointer. The raw value is the 4-bit register field of an instruction; an
/// encoding may carry 11–15, which ``InstructionValidator`` rejects.
public struct Register: RawRepresentable, Hashable, Comparable, Sendable {
  /// The register number as encoded in an instruction's 4-bit field.
  public var rawValue: UInt8

  /// Wraps a register number; values above 10 are representable so that
  /// malformed encodings can be decoded and then reported.
  public init(rawValue: UInt8) {
    self.rawValue = rawValue & 0x0f
  }

  /// Whether the number names an existing register (R0–R10).
  public var isValid: Bool { rawValue <= 10 }

  public static func < (lhs: Register, rhs: Register) -> Bool { lhs.rawValue < rhs.rawValue }

  public static let r0 = Register(rawValue: 0)
  public static let r1 = Register(rawValue: 1)
  public static let r2 = Register(rawValue: 2)
  public static let r3 = Register(rawValue: 3)
  public static let r4 = Register(rawValue: 4)
  public static let r5 = Register(rawValue: 5)
  public static let r6 = Register(rawValue: 6)
  public static let r7 = Register(rawValue: 7)
  public static let r8 = Register(rawValue: 8)
  public static let r9 = Register(rawValue: 9)
  public static let r10 = Register(rawValue: 10)

  /// The read-only frame pointer, R10.
  public static let framePointer = r10
}

extension Register: CustomStringConvertible {
  /// `r0` … `r10`, as LLVM prints registers.
  public var description: String { "r\(rawValue)" }
}
