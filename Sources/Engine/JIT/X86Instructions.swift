/// The x86-64 instructions the JIT emits, named after their mnemonic.
extension X86Assembler {
  /// `mov dst, src` (64- or 32-bit; the 32-bit form zero-extends).
  mutating func move(_ dst: X86Register, _ src: X86Register, wide: Bool = true) {
    registerForm([0x89], wide: wide, reg: src.number, rm: dst)
  }

  /// `mov dst, imm`: the shortest form that gives the 64-bit value.
  mutating func move(_ dst: X86Register, immediate value: UInt64) {
    if value <= UInt64(UInt32.max) {
      rex(wide: false, base: dst.number)
      emit(0xb8 | dst.low)
      emit32(Int32(bitPattern: UInt32(value)))
    } else if Int64(bitPattern: value) >= Int64(Int32.min),
      Int64(bitPattern: value) <= Int64(Int32.max)
    {
      registerForm([0xc7], wide: true, reg: 0, rm: dst)
      emit32(Int32(truncatingIfNeeded: Int64(bitPattern: value)))
    } else {
      rex(wide: true, base: dst.number)
      emit(0xb8 | dst.low)
      emit64(value)
    }
  }

  /// `mov dst, [base + disp]` (64-bit).
  mutating func load(_ dst: X86Register, _ base: X86Register, _ displacement: Int32) {
    memoryForm([0x8b], wide: true, reg: dst.number, base: base, displacement: displacement)
  }

  /// `mov [base + disp], src` (64-bit).
  mutating func store(_ src: X86Register, _ base: X86Register, _ displacement: Int32) {
    memoryForm([0x89], wide: true, reg: src.number, base: base, displacement: displacement)
  }

  /// `mov qword [base + disp], imm32` (sign-extended).
  mutating func store(immediate: Int32, _ base: X86Register, _ displacement: Int32) {
    memoryForm([0xc7], wide: true, reg: 0, base: base, displacement: displacement)
    emit32(immediate)
  }

  /// `cmp qword [base + disp], imm32`.
  mutating func compare(memory base: X86Register, _ displacement: Int32, immediate: Int32) {
    memoryForm([0x81], wide: true, reg: 7, base: base, displacement: displacement)
    emit32(immediate)
  }

  /// `cmp reg, [base + disp]` (64-bit).
  mutating func compare(_ reg: X86Register, memory base: X86Register, _ displacement: Int32) {
    memoryForm([0x3b], wide: true, reg: reg.number, base: base, displacement: displacement)
  }

  /// `add reg, [base + disp]` (64-bit).
  mutating func add(_ reg: X86Register, memory base: X86Register, _ displacement: Int32) {
    memoryForm([0x03], wide: true, reg: reg.number, base: base, displacement: displacement)
  }

  /// `lea dst, [base + disp]`.
  mutating func loadAddress(_ dst: X86Register, _ base: X86Register, _ displacement: Int32) {
    memoryForm([0x8d], wide: true, reg: dst.number, base: base, displacement: displacement)
  }

  /// A group-1 operation with a register operand (`add`, `or`, `and`,
  /// `sub`, `xor`, `cmp`), given its `r/m, reg` opcode.
  mutating func arithmetic(_ opcode: UInt8, _ dst: X86Register, _ src: X86Register, wide: Bool) {
    registerForm([opcode], wide: wide, reg: src.number, rm: dst)
  }

  /// A group-1 operation with an immediate (`/digit` selects it: add 0,
  /// or 1, and 4, sub 5, xor 6, cmp 7).
  mutating func arithmetic(digit: UInt8, _ dst: X86Register, immediate: Int32, wide: Bool) {
    if immediate >= -128 && immediate <= 127 {
      registerForm([0x83], wide: wide, reg: digit, rm: dst)
      emit(UInt8(bitPattern: Int8(immediate)))
    } else {
      registerForm([0x81], wide: wide, reg: digit, rm: dst)
      emit32(immediate)
    }
  }

  /// `test dst, src`.
  mutating func test(_ dst: X86Register, _ src: X86Register, wide: Bool) {
    registerForm([0x85], wide: wide, reg: src.number, rm: dst)
  }

  /// `test dst, imm32`.
  mutating func test(_ dst: X86Register, immediate: Int32, wide: Bool) {
    registerForm([0xf7], wide: wide, reg: 0, rm: dst)
    emit32(immediate)
  }

  /// A shift by an immediate (`/digit`: shl 4, shr 5, sar 7, ror 1).
  mutating func shift(digit: UInt8, _ dst: X86Register, by count: UInt8, wide: Bool) {
    registerForm([0xc1], wide: wide, reg: digit, rm: dst)
    emit(count)
  }

  /// A shift by `cl`.
  mutating func shiftByCL(digit: UInt8, _ dst: X86Register, wide: Bool) {
    registerForm([0xd3], wide: wide, reg: digit, rm: dst)
  }

  /// A unary group-3 operation (`/digit`: neg 3, mul 4, div 6, idiv 7).
  mutating func unary(digit: UInt8, _ dst: X86Register, wide: Bool) {
    registerForm([0xf7], wide: wide, reg: digit, rm: dst)
  }

  /// `imul dst, src`.
  mutating func multiply(_ dst: X86Register, _ src: X86Register, wide: Bool) {
    registerForm([0x0f, 0xaf], wide: wide, reg: dst.number, rm: src)
  }

  /// `imul dst, dst, imm32`.
  mutating func multiply(_ dst: X86Register, immediate: Int32, wide: Bool) {
    registerForm([0x69], wide: wide, reg: dst.number, rm: dst)
    emit32(immediate)
  }

  /// `movzx`/`movsx` from a register's low byte or half (`opcode` 0xb6,
  /// 0xb7, 0xbe, 0xbf), or `movsxd` (0x63).
  mutating func extend(_ opcode: UInt8, _ dst: X86Register, _ src: X86Register, wide: Bool) {
    let bytes: [UInt8] = opcode == 0x63 ? [0x63] : [0x0f, opcode]
    registerForm(bytes, wide: wide, reg: dst.number, rm: src, byteRegisters: true)
  }

  /// `bswap reg`.
  mutating func byteSwap(_ reg: X86Register, wide: Bool) {
    rex(wide: wide, base: reg.number)
    emit(0x0f, 0xc8 | reg.low)
  }

  /// `ror reg16, 8`: swaps the two low bytes.
  mutating func swapLowBytes(_ reg: X86Register) {
    registerForm([0xc1], wide: false, reg: 1, rm: reg, prefix: 0x66)
    emit(8)
  }

  mutating func push(_ reg: X86Register) {
    rex(wide: false, base: reg.number)
    emit(0x50 | reg.low)
  }

  mutating func pop(_ reg: X86Register) {
    rex(wide: false, base: reg.number)
    emit(0x58 | reg.low)
  }

  /// `call reg`.
  mutating func call(_ reg: X86Register) {
    rex(wide: false, base: reg.number)
    emit(0xff, 0xd0 | reg.low)
  }

  /// `jmp reg`.
  mutating func jump(_ reg: X86Register) {
    rex(wide: false, base: reg.number)
    emit(0xff, 0xe0 | reg.low)
  }

  mutating func ret() { emit(0xc3) }
}
