// Constructors for the instructions that the rewriter emits and that tests
// write by hand, named after their meaning rather than their opcode bits.

extension Instruction {
  /// `dst op= src` on 64 bits (or 32 with `wide: false`).
  public static func arithmetic(
    _ operation: ArithmeticOperation, _ dst: Register, _ src: Register, wide: Bool = true
  ) -> Instruction {
    Instruction(opcode: Opcode.arithmetic(operation, .register, wide: wide), dst: dst, src: src)
  }

  /// `dst op= immediate` on 64 bits (or 32 with `wide: false`).
  public static func arithmetic(
    _ operation: ArithmeticOperation, _ dst: Register, immediate: Int32, wide: Bool = true
  ) -> Instruction {
    Instruction(
      opcode: Opcode.arithmetic(operation, .immediate, wide: wide), dst: dst, immediate: immediate)
  }

  /// `dst = src`, 64-bit.
  public static func move(_ dst: Register, _ src: Register) -> Instruction {
    arithmetic(.mov, dst, src)
  }

  /// `dst = immediate`, 64-bit (the immediate is sign-extended).
  public static func move(_ dst: Register, immediate: Int32) -> Instruction {
    arithmetic(.mov, dst, immediate: immediate)
  }

  /// `dst += immediate`, 64-bit.
  public static func add(_ dst: Register, immediate: Int32) -> Instruction {
    arithmetic(.add, dst, immediate: immediate)
  }

  /// `dst = *(size *)(base + offset)`.
  public static func load(
    _ size: AccessSize, _ dst: Register, from base: Register, offset: Int16
  ) -> Instruction {
    Instruction(opcode: Opcode.memory(.ldx, .memory, size), dst: dst, src: base, offset: offset)
  }

  /// `*(size *)(base + offset) = src`.
  public static func store(
    _ size: AccessSize, _ src: Register, to base: Register, offset: Int16
  ) -> Instruction {
    Instruction(opcode: Opcode.memory(.stx, .memory, size), dst: base, src: src, offset: offset)
  }

  /// `*(size *)(base + offset) = immediate`.
  public static func store(
    _ size: AccessSize, immediate: Int32, to base: Register, offset: Int16
  ) -> Instruction {
    Instruction(
      opcode: Opcode.memory(.st, .memory, size), dst: base, offset: offset, immediate: immediate)
  }

  /// `goto +offset` (16-bit distance, in slots from the next instruction).
  public static func jump(offset: Int16) -> Instruction {
    Instruction(opcode: Opcode.jump, offset: offset)
  }

  /// `gotol +distance` (32-bit distance in the immediate).
  public static func longJump(distance: Int32) -> Instruction {
    Instruction(opcode: Opcode.longJump, immediate: distance)
  }

  /// `if dst op src goto +offset`.
  public static func jump(
    _ operation: JumpOperation, _ dst: Register, _ src: Register, offset: Int16, wide: Bool = true
  ) -> Instruction {
    Instruction(
      opcode: Opcode.jump(operation, .register, wide: wide), dst: dst, src: src, offset: offset)
  }

  /// `if dst op immediate goto +offset`.
  public static func jump(
    _ operation: JumpOperation, _ dst: Register, immediate: Int32, offset: Int16,
    wide: Bool = true
  ) -> Instruction {
    Instruction(
      opcode: Opcode.jump(operation, .immediate, wide: wide), dst: dst, offset: offset,
      immediate: immediate)
  }

  /// `call helper` by helper id.
  public static func call(helper id: Int32) -> Instruction {
    Instruction(opcode: Opcode.call, immediate: id)
  }

  /// A call of the kernel function (kfunc) with BTF id `id` in vmlinux.
  public static func call(kernelFunction id: Int32) -> Instruction {
    Instruction(
      opcode: Opcode.call, src: Register(rawValue: CallKind.kfunc.rawValue), immediate: id)
  }

  /// A bpf-to-bpf call to the instruction `distance` slots after the next.
  public static func call(local distance: Int32) -> Instruction {
    Instruction(
      opcode: Opcode.call, src: Register(rawValue: CallKind.local.rawValue), immediate: distance)
  }

  /// `exit`.
  public static let exit = Instruction(opcode: Opcode.exit)

  /// The two slots of `dst = value ll` (`ld_imm64`), with `kind` saying what
  /// the value means.
  public static func loadImmediate64(
    _ dst: Register, _ value: UInt64, kind: ImmediateLoadKind = .value
  ) -> [Instruction] {
    [
      Instruction(
        opcode: Opcode.loadImmediate64, dst: dst, src: Register(rawValue: kind.rawValue),
        immediate: Int32(truncatingIfNeeded: value)),
      Instruction(opcode: 0, immediate: Int32(truncatingIfNeeded: value >> 32)),
    ]
  }
}

extension Instruction {
  /// For the first slot of `ld_imm64`: the full 64-bit constant, given the
  /// second slot.
  public func wideImmediate(with next: Instruction) -> UInt64 {
    UInt64(UInt32(bitPattern: immediate)) | UInt64(UInt32(bitPattern: next.immediate)) << 32
  }

  /// For the first slot of `ld_imm64`: what the constant means.
  public var immediateLoadKind: ImmediateLoadKind? {
    isWideImmediateLoad ? ImmediateLoadKind(rawValue: src.rawValue) : nil
  }
}
