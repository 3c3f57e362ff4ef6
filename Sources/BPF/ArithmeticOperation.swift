/// The operation field (high four bits) of an `alu` or `alu64` opcode
/// (RFC 9669, section 4.1).
public enum ArithmeticOperation: UInt8, Sendable, CaseIterable {
  case add = 0x00
  case sub = 0x10
  case mul = 0x20
  /// Unsigned division, or signed (`sdiv`) when the offset is 1.
  case div = 0x30
  case or = 0x40
  case and = 0x50
  case lsh = 0x60
  case rsh = 0x70
  case neg = 0x80
  /// Unsigned modulo, or signed (`smod`) when the offset is 1.
  case mod = 0x90
  case xor = 0xa0
  /// Move, or sign-extending move (`movsx`) when the offset is 8, 16 or 32.
  case mov = 0xb0
  case arsh = 0xc0
  /// Byte swap: to little/big endian (`alu`) or unconditional (`alu64`).
  case end = 0xd0
}
