/// The operation field (high four bits) of a `jmp` or `jmp32` opcode
/// (RFC 9669, section 4.3).
public enum JumpOperation: UInt8, Sendable, CaseIterable {
  /// Unconditional jump; in the `jmp32` class, `gotol` with a 32-bit offset.
  case ja = 0x00
  case jeq = 0x10
  case jgt = 0x20
  case jge = 0x30
  case jset = 0x40
  case jne = 0x50
  case jsgt = 0x60
  case jsge = 0x70
  /// Helper call, local (bpf-to-bpf) call or BTF-id call, by the source field.
  case call = 0x80
  /// Return from the program or from a subprogram.
  case exit = 0x90
  case jlt = 0xa0
  case jle = 0xb0
  case jslt = 0xc0
  case jsle = 0xd0

  /// Whether the jump compares two operands (every case but `ja`, `call`
  /// and `exit`).
  public var isConditional: Bool {
    switch self {
    case .ja, .call, .exit: false
    default: true
    }
  }
}

/// What the source field of a `call` instruction says the immediate means.
public enum CallKind: UInt8, Sendable {
  /// `imm` is a helper function id.
  case helper = 0
  /// `imm` is the offset of a bpf-to-bpf call target, relative to the next
  /// instruction.
  case local = 1
  /// `imm` is the BTF id of a kernel function (kfunc).
  case kfunc = 2
}
