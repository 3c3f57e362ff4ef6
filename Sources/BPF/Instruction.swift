/// One 8-byte eBPF instruction slot (RFC 9669, section 3).
///
/// This is the encoding as stored in an object file, not a decoded
/// operation: every field keeps its raw value so that decode followed by
/// encode is byte-identical, and so that the rewriter can patch offsets and
/// immediates in place. A 64-bit immediate load (`ld_imm64`) occupies two
/// consecutive slots; the second has opcode 0 and carries the high half of
/// the constant in its `immediate`. ``InstructionValidator`` decides which
/// slots form a legal program.
public struct Instruction: Hashable, Sendable {
  /// The opcode byte: class, and operation/source or size/mode bits.
  public var opcode: UInt8
  /// The destination register field.
  public var dst: Register
  /// The source register field (for `ld_imm64` and `call`, a kind).
  public var src: Register
  /// The signed 16-bit offset: jump distance in slots, memory displacement
  /// in bytes, or a variant selector (`sdiv`, `movsx`).
  public var offset: Int16
  /// The signed 32-bit immediate.
  public var immediate: Int32

  /// Makes a slot from its five fields.
  public init(
    opcode: UInt8, dst: Register = .r0, src: Register = .r0, offset: Int16 = 0,
    immediate: Int32 = 0
  ) {
    self.opcode = opcode
    self.dst = dst
    self.src = src
    self.offset = offset
    self.immediate = immediate
  }

  /// The instruction class, from the opcode's low three bits.
  public var instructionClass: InstructionClass {
    InstructionClass(rawValue: opcode & 0x07)!
  }

  /// For arithmetic and jumps: whether the operand is `src` or `immediate`.
  public var operandSource: OperandSource {
    OperandSource(rawValue: opcode & 0x08)!
  }

  /// For `alu`/`alu64`: the operation, if the field names one.
  public var arithmeticOperation: ArithmeticOperation? {
    instructionClass.isArithmetic ? ArithmeticOperation(rawValue: opcode & 0xf0) : nil
  }

  /// For `jmp`/`jmp32`: the operation, if the field names one.
  public var jumpOperation: JumpOperation? {
    instructionClass.isJump ? JumpOperation(rawValue: opcode & 0xf0) : nil
  }

  /// For loads and stores: the access size.
  public var accessSize: AccessSize? {
    instructionClass.isMemory ? AccessSize(rawValue: opcode & 0x18) : nil
  }

  /// For loads and stores: the access mode, if the field names one.
  public var accessMode: AccessMode? {
    instructionClass.isMemory ? AccessMode(rawValue: opcode & 0xe0) : nil
  }

  /// Whether this slot starts a 64-bit immediate load (and so is followed by
  /// its second half).
  public var isWideImmediateLoad: Bool { opcode == Opcode.loadImmediate64 }

  /// Whether this is `exit`.
  public var isExit: Bool { opcode == Opcode.exit }

  /// Whether this is a call of any kind.
  public var isCall: Bool { opcode == Opcode.call }

  /// For `call`: what the immediate names.
  public var callKind: CallKind? { isCall ? CallKind(rawValue: src.rawValue) : nil }

  /// Whether this is a bpf-to-bpf call, whose immediate is a relative target.
  public var isLocalCall: Bool { isCall && src.rawValue == CallKind.local.rawValue }

  /// Whether this is a helper call (by helper id).
  public var isHelperCall: Bool { isCall && src.rawValue == CallKind.helper.rawValue }

  /// Whether this slot transfers control to a target by a relative distance:
  /// conditional and unconditional jumps, `gotol`.
  public var isBranch: Bool {
    guard let operation = jumpOperation else { return false }
    return operation != .call && operation != .exit
  }

  /// For branches: the distance in slots from the next instruction to the
  /// target (`offset`, or `immediate` for `gotol`).
  public var branchDistance: Int? {
    guard isBranch else { return nil }
    if opcode == Opcode.longJump { return Int(immediate) }
    return Int(offset)
  }

  /// The slots a branch at `index` goes on to: its target, then the next
  /// slot unless it always jumps (`ja`, `gotol`); none when it is no branch.
  public func branchTargets(at index: Int) -> [Int] {
    guard let distance = branchDistance else { return [] }
    let target = index + 1 + distance
    return jumpOperation == .ja ? [target] : [target, index + 1]
  }
}

/// Opcode bytes that the rest of the project names directly.
public enum Opcode {
  /// `ld_imm64`: `ld | imm | dw`.
  public static let loadImmediate64: UInt8 = 0x18
  /// `exit`: `jmp | exit`.
  public static let exit: UInt8 = 0x95
  /// `call`: `jmp | call`.
  public static let call: UInt8 = 0x85
  /// `callx`: call the helper whose id is in the destination register.
  public static let callRegister: UInt8 = 0x8d
  /// `ja` with a 16-bit offset: `jmp | ja`.
  public static let jump: UInt8 = 0x05
  /// `gotol`, `ja` with a 32-bit offset in the immediate: `jmp32 | ja`.
  public static let longJump: UInt8 = 0x06

  /// Composes an arithmetic opcode.
  public static func arithmetic(
    _ operation: ArithmeticOperation, _ source: OperandSource, wide: Bool
  ) -> UInt8 {
    operation.rawValue | source.rawValue
      | (wide ? InstructionClass.alu64 : InstructionClass.alu).rawValue
  }

  /// Composes a jump opcode.
  public static func jump(
    _ operation: JumpOperation, _ source: OperandSource, wide: Bool = true
  ) -> UInt8 {
    operation.rawValue | source.rawValue
      | (wide ? InstructionClass.jmp : InstructionClass.jmp32).rawValue
  }

  /// Composes a load or store opcode.
  public static func memory(
    _ instructionClass: InstructionClass, _ mode: AccessMode, _ size: AccessSize
  ) -> UInt8 {
    mode.rawValue | size.rawValue | instructionClass.rawValue
  }
}
