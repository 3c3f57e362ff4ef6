/// Why a byte string or instruction sequence is not a valid eBPF program.
///
/// Every case that concerns one instruction carries its slot index, so that
/// messages can point at the exact place.
public enum InstructionError: Error, Equatable, Sendable {
  /// The byte count is not a multiple of the 8-byte slot size.
  case truncatedStream(byteCount: Int)
  /// The opcode byte names no instruction of RFC 9669.
  case unknownOpcode(index: Int, opcode: UInt8)
  /// A register field names a register above R10.
  case invalidRegister(index: Int, register: UInt8)
  /// A field that must be zero, or must hold one of a few values, does not.
  case invalidField(index: Int, field: String, value: Int64)
  /// A 64-bit immediate load is the last slot, or its second slot is not a
  /// proper continuation (opcode, registers and offset zero).
  case malformedWideLoad(index: Int)
  /// A jump or call lands outside the program or inside an `ld_imm64`.
  case jumpOutOfRange(index: Int, target: Int)
  /// The last instruction can continue past the end of the program (it is
  /// not `exit` or an unconditional jump).
  case fallsOffEnd(index: Int)
  /// The program has no instructions at all.
  case emptyProgram
}

extension InstructionError: CustomStringConvertible {
  /// A one-line message naming the instruction index and what is wrong.
  public var description: String {
    switch self {
    case .truncatedStream(let count):
      "instruction stream of \(count) bytes is not a multiple of 8"
    case .unknownOpcode(let index, let opcode):
      "instruction \(index): unknown opcode 0x\(String(opcode, radix: 16, uppercase: false))"
    case .invalidRegister(let index, let register):
      "instruction \(index): register r\(register) does not exist (r0-r10)"
    case .invalidField(let index, let field, let value):
      "instruction \(index): invalid \(field) \(value)"
    case .malformedWideLoad(let index):
      "instruction \(index): ld_imm64 without a valid second slot"
    case .jumpOutOfRange(let index, let target):
      "instruction \(index): jump target \(target) is outside the program or inside ld_imm64"
    case .fallsOffEnd(let index):
      "instruction \(index): the program can run past its last instruction (end it with exit or goto)"
    case .emptyProgram:
      "the program has no instructions"
    }
  }
}
