// The per-slot half of ``InstructionValidator``: whether one slot is an
// instruction of RFC 9669 with every field in range. Whole-stream questions
// (ld_imm64 pairs, jump targets, falling off the end) live in the validator.

extension Instruction {
  /// Checks that this slot encodes an instruction of RFC 9669 (Appendix A)
  /// and that every field it does not use is zero.
  ///
  /// The second slot of `ld_imm64` is not an instruction on its own; check
  /// it with ``checkWideLoadContinuation(at:)`` instead.
  ///
  /// - Parameter index: the slot's index, for the error.
  /// - Throws: ``InstructionError`` naming `index` and the offending field.
  public func checkEncoding(at index: Int) throws(InstructionError) {
    switch instructionClass {
    case .alu, .alu64: try checkArithmetic(at: index)
    case .jmp, .jmp32: try checkJump(at: index)
    case .ld: try checkNonStandardLoad(at: index)
    case .ldx: try checkLoad(at: index)
    case .st: try checkStoreImmediate(at: index)
    case .stx: try checkStoreRegister(at: index)
    }
  }

  /// Checks that this slot is a proper second half of `ld_imm64`: opcode,
  /// registers and offset zero (the immediate is the constant's high half).
  public func checkWideLoadContinuation(at index: Int) throws(InstructionError) {
    guard opcode == 0, dst.rawValue == 0, src.rawValue == 0, offset == 0 else {
      throw .malformedWideLoad(index: index)
    }
  }

  private func checkArithmetic(at index: Int) throws(InstructionError) {
    guard let operation = arithmeticOperation else { throw unknownOpcode(index) }
    let wide = instructionClass == .alu64
    try requireRegister(dst, at: index)
    switch operation {
    case .neg:
      guard operandSource == .immediate else { throw unknownOpcode(index) }
      try requireZero(src, "source register", at: index)
      try requireZero(immediate, "immediate", at: index)
      try requireZero(offset, "offset", at: index)
    case .end:
      // alu64 | end | x (0xdf) is not an instruction; alu | end | x is to-be.
      guard !(wide && operandSource == .register) else { throw unknownOpcode(index) }
      try requireZero(src, "source register", at: index)
      try requireZero(offset, "offset", at: index)
      guard [16, 32, 64].contains(immediate) else {
        throw .invalidField(index: index, field: "byte swap width", value: Int64(immediate))
      }
    default:
      try checkOperand(at: index)
      let allowedOffsets: [Int16] =
        switch operation {
        case .div, .mod: [0, 1]
        case .mov where operandSource == .register: wide ? [0, 8, 16, 32] : [0, 8, 16]
        default: [0]
        }
      guard allowedOffsets.contains(offset) else {
        throw .invalidField(index: index, field: "offset", value: Int64(offset))
      }
    }
  }

  private func checkJump(at index: Int) throws(InstructionError) {
    guard let operation = jumpOperation else { throw unknownOpcode(index) }
    let wide = instructionClass == .jmp
    switch operation {
    case .ja:
      guard operandSource == .immediate else { throw unknownOpcode(index) }
      try requireZero(dst, "destination register", at: index)
      try requireZero(src, "source register", at: index)
      // `ja` carries its distance in the offset, `gotol` in the immediate.
      if wide {
        try requireZero(immediate, "immediate", at: index)
      } else {
        try requireZero(offset, "offset", at: index)
      }
    case .call where wide && operandSource == .register:
      // `callx`: the helper id is in the destination register.
      try requireRegister(dst, at: index)
      try requireZero(src, "source register", at: index)
      try requireZero(offset, "offset", at: index)
      try requireZero(immediate, "immediate", at: index)
    case .call:
      guard wide, operandSource == .immediate else { throw unknownOpcode(index) }
      try requireZero(dst, "destination register", at: index)
      try requireZero(offset, "offset", at: index)
      guard CallKind(rawValue: src.rawValue) != nil else {
        throw .invalidField(index: index, field: "call kind", value: Int64(src.rawValue))
      }
    case .exit:
      guard wide, operandSource == .immediate else { throw unknownOpcode(index) }
      try requireZero(dst, "destination register", at: index)
      try requireZero(src, "source register", at: index)
      try requireZero(offset, "offset", at: index)
      try requireZero(immediate, "immediate", at: index)
    default:
      try requireRegister(dst, at: index)
      try checkOperand(at: index)
    }
  }

  /// `ld`: `ld_imm64` and the legacy packet loads (word, half and byte only).
  private func checkNonStandardLoad(at index: Int) throws(InstructionError) {
    guard let mode = accessMode, let size = accessSize else { throw unknownOpcode(index) }
    switch mode {
    case .immediate:
      guard size == .doubleWord else { throw unknownOpcode(index) }
      try requireRegister(dst, at: index)
      try requireZero(offset, "offset", at: index)
      guard ImmediateLoadKind(rawValue: src.rawValue) != nil else {
        throw .invalidField(index: index, field: "ld_imm64 kind", value: Int64(src.rawValue))
      }
    case .absolute, .indirect:
      guard size != .doubleWord else { throw unknownOpcode(index) }
      try requireZero(dst, "destination register", at: index)
      try requireZero(offset, "offset", at: index)
      if mode == .absolute {
        try requireZero(src, "source register", at: index)
      } else {
        try requireRegister(src, at: index)
      }
    default:
      throw unknownOpcode(index)
    }
  }

  /// `ldx`: plain loads of every size, sign-extending loads of 1, 2, 4 bytes.
  private func checkLoad(at index: Int) throws(InstructionError) {
    switch accessMode {
    case .memory: break
    case .memorySignExtend where accessSize != .doubleWord: break
    default: throw unknownOpcode(index)
    }
    try requireRegister(dst, at: index)
    try requireRegister(src, at: index)
    try requireZero(immediate, "immediate", at: index)
  }

  private func checkStoreImmediate(at index: Int) throws(InstructionError) {
    guard accessMode == .memory else { throw unknownOpcode(index) }
    try requireRegister(dst, at: index)
    try requireZero(src, "source register", at: index)
  }

  /// `stx`: plain stores of every size, atomics of 4 and 8 bytes.
  private func checkStoreRegister(at index: Int) throws(InstructionError) {
    switch accessMode {
    case .memory:
      try requireRegister(dst, at: index)
      try requireRegister(src, at: index)
      try requireZero(immediate, "immediate", at: index)
    case .atomic where accessSize == .word || accessSize == .doubleWord:
      try requireRegister(dst, at: index)
      try requireRegister(src, at: index)
      guard AtomicOperation(rawValue: immediate) != nil else {
        throw .invalidField(index: index, field: "atomic operation", value: Int64(immediate))
      }
    default:
      throw unknownOpcode(index)
    }
  }

  /// The second operand of arithmetic and conditional jumps: a register
  /// with a zero immediate, or an immediate with a zero source field.
  private func checkOperand(at index: Int) throws(InstructionError) {
    switch operandSource {
    case .register:
      try requireRegister(src, at: index)
      try requireZero(immediate, "immediate", at: index)
    case .immediate:
      try requireZero(src, "source register", at: index)
    }
  }

  private func unknownOpcode(_ index: Int) -> InstructionError {
    .unknownOpcode(index: index, opcode: opcode)
  }

  private func requireRegister(_ register: Register, at index: Int) throws(InstructionError) {
    guard register.isValid else {
      throw .invalidRegister(index: index, register: register.rawValue)
    }
  }

  private func requireZero(_ register: Register, _ field: String, at index: Int)
    throws(InstructionError)
  {
    guard register.rawValue == 0 else {
      throw .invalidField(index: index, field: field, value: Int64(register.rawValue))
    }
  }

  private func requireZero(_ value: some BinaryInteger, _ field: String, at index: Int)
    throws(InstructionError)
  {
    guard value == 0 else {
      throw .invalidField(index: index, field: field, value: Int64(value))
    }
  }
}
