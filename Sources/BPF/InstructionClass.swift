/// The three low bits of an opcode: which family an instruction belongs to
/// (RFC 9669, section 3.3).
public enum InstructionClass: UInt8, Sendable, CaseIterable {
  /// Non-standard loads: `ld_imm64` and the legacy packet loads.
  case ld = 0x00
  /// Load from memory into a register.
  case ldx = 0x01
  /// Store an immediate into memory.
  case st = 0x02
  /// Store a register into memory, and atomic operations.
  case stx = 0x03
  /// 32-bit arithmetic.
  case alu = 0x04
  /// 64-bit jumps, calls and exit.
  case jmp = 0x05
  /// 32-bit jumps.
  case jmp32 = 0x06
  /// 64-bit arithmetic.
  case alu64 = 0x07

  /// Whether the class encodes arithmetic (`alu`, `alu64`).
  public var isArithmetic: Bool { self == .alu || self == .alu64 }
  /// Whether the class encodes control flow (`jmp`, `jmp32`).
  public var isJump: Bool { self == .jmp || self == .jmp32 }
  /// Whether the class encodes a memory access (`ld`, `ldx`, `st`, `stx`).
  public var isMemory: Bool { rawValue <= 0x03 }
}

/// The source bit of arithmetic and jump opcodes: whether the second operand
/// is the immediate (`k`) or the source register (`x`).
public enum OperandSource: UInt8, Sendable {
  /// Use the 32-bit immediate.
  case immediate = 0x00
  /// Use the source register.
  case register = 0x08
}
