import BPF

/// The shape of a generated function: prologue, blocks, epilogue; the
/// arithmetic and control-flow blocks.
extension CaseGenerator {
  /// What one block does.
  enum Block: CaseIterable {
    case arithmetic, wideLoad, skip, diamond, loop, earlyExit
    case stack, atomic, packet, contextField, mapLookup, mapUpdate
    case checksum, trace, redirect, packetHelper, call
    // Unrestricted only.
    case nondeterministic, legacyLoad, callRegister, wildAccess, rawInstruction, tailCall
    case runawayLoop

    var isUnrestrictedOnly: Bool {
      switch self {
      case .nondeterministic, .legacyLoad, .callRegister, .wildAccess, .rawInstruction, .tailCall,
        .runawayLoop:
        true
      default: false
      }
    }
  }

  mutating func build(_ function: inout FunctionBuilder, blocks: Int) {
    prologue(&function)
    let allowed = Block.allCases.filter { flavor == .unrestricted || !$0.isUnrestrictedOnly }
    for _ in 0..<blocks { block(choices.pick(allowed), &function) }
    // Every subprogram is called (the verifier refuses unreachable code).
    for callee in function.callees where !function.calls.contains(where: { $0.callee == callee }) {
      call(callee, &function)
    }
    epilogue(&function)
  }

  /// R6 = the context (main) or the caller's window (R2, subprograms),
  /// scalars in R0 and R7-R9, and the function's stack area written.
  mutating func prologue(_ function: inout FunctionBuilder) {
    if function.isMain {
      function.emit(.move(.r6, .r1))
    } else {
      function.emit([.move(.r6, .r2), .move(.r7, .r1)])
    }
    for register in function.isMain ? [Register.r0, .r7, .r8, .r9] : [.r0, .r8, .r9] {
      setScalar(register, &function)
    }
    for offset in stride(from: -function.area, to: 0, by: 8) {
      function.emit(
        .store(
          .doubleWord, immediate: Int32(truncatingIfNeeded: choices.word()), to: .r10,
          offset: Int16(offset)))
    }
  }

  /// R0 from the scalars (the verdict: often masked to 0...7), then exit.
  mutating func epilogue(_ function: inout FunctionBuilder) {
    let source = choices.pick(function.scalars)
    if source != .r0 { function.emit(.move(.r0, source)) }
    if function.isMain && choices.chance(70) {
      function.emit(.alu(.and, .r0, source: nil, immediate: 7, wide: choices.chance(50)))
    }
    function.emit(.exit)
  }

  /// `register` = a constant (32-bit, sign-extended, or a full `ld_imm64`).
  mutating func setScalar(_ register: Register, _ function: inout FunctionBuilder) {
    let value = choices.interesting()
    if choices.chance(40) {
      function.emit(Instruction.loadImmediate64(register, value))
    } else {
      function.emit(.move(register, immediate: Int32(truncatingIfNeeded: value)))
    }
  }

  mutating func block(_ kind: Block, _ function: inout FunctionBuilder) {
    switch kind {
    case .arithmetic: function.emit(arithmetic(count: choices.int(1...5), function))
    case .wideLoad: setScalar(choices.pick(function.scalars), &function)
    case .skip: skip(&function)
    case .diamond: diamond(&function)
    case .loop: loop(&function, runaway: false)
    case .runawayLoop: loop(&function, runaway: true)
    case .earlyExit: earlyExit(&function)
    case .stack: stackAccess(&function)
    case .atomic: atomic(base: .r10, area: function.area, &function)
    case .packet: packetAccess(&function)
    case .contextField: contextField(&function)
    case .mapLookup: mapLookup(&function)
    case .mapUpdate: mapUpdate(&function)
    case .checksum: checksum(&function)
    case .trace: trace(&function)
    case .redirect: redirect(&function)
    case .packetHelper: packetHelper(&function)
    case .call: call(&function)
    case .nondeterministic: nondeterministic(&function)
    case .legacyLoad: legacyLoad(&function)
    case .callRegister: callRegister(&function)
    case .wildAccess: wildAccess(&function)
    case .rawInstruction: rawInstruction(&function)
    case .tailCall: tailCall(&function)
    }
  }

  /// `count` ALU instructions over the scalars: every operation, both
  /// widths, immediate and register operands, `sdiv`/`smod`, `movsx`,
  /// `neg`, and the byte swaps.
  mutating func arithmetic(count: Int, _ function: FunctionBuilder) -> [Instruction] {
    var code: [Instruction] = []
    let registers = function.scalars
    for _ in 0..<count {
      let dst = choices.pick(registers)
      let wide = choices.chance(55)
      let width: Int32 = wide ? 64 : 32
      let source: Register? = choices.chance(50) ? choices.pick(registers) : nil
      let immediate = Int32(truncatingIfNeeded: choices.interesting())
      switch choices.int(0...15) {
      case 0...3:
        let operation = choices.pick([ArithmeticOperation.add, .sub, .mul, .or, .and, .xor, .mov])
        code.append(.alu(operation, dst, source: source, immediate: immediate, wide: wide))
      case 4...5:
        // div, mod, and their signed forms; a constant divisor is never 0
        // (the verifier refuses it), a register one may be.
        let operation = choices.pick([ArithmeticOperation.div, .mod])
        let signed: Int16 = choices.chance(50) ? 1 : 0
        let divisor = immediate == 0 ? Int32(1 + choices.int(0...6)) : immediate
        code.append(
          .alu(operation, dst, source: source, immediate: divisor, offset: signed, wide: wide))
      case 6...7:
        let operation = choices.pick([ArithmeticOperation.lsh, .rsh, .arsh])
        let amount = Int32(choices.int(0...Int(width - 1)))
        code.append(.alu(operation, dst, source: source, immediate: amount, wide: wide))
      case 8:
        code.append(
          Instruction(opcode: Opcode.arithmetic(.neg, .immediate, wide: wide), dst: dst))
      case 9...10:
        let widths: [Int16] = wide ? [8, 16, 32] : [8, 16]
        code.append(
          .alu(.mov, dst, source: choices.pick(registers), offset: choices.pick(widths), wide: wide)
        )
      case 11...12:
        // le/be (alu) and bswap (alu64), 16, 32 or 64 bits.
        let bits = Int32(choices.pick([16, 32, 64]))
        let toBigEndian = choices.chance(50)
        code.append(
          Instruction(
            opcode: wide ? 0xd7 : (toBigEndian ? 0xdc : 0xd4), dst: dst, immediate: bits))
      default:
        code.append(.alu(.mov, dst, source: nil, immediate: immediate, wide: wide))
      }
    }
    return code
  }

  /// A conditional jump (any test, 64 or 32 bits, immediate or register)
  /// over a short run of arithmetic.
  mutating func condition(over distance: Int, _ function: FunctionBuilder) -> Instruction {
    let operation = choices.pick(
      [JumpOperation.jeq, .jgt, .jge, .jset, .jne, .jsgt, .jsge, .jlt, .jle, .jslt, .jsle])
    let dst = choices.pick(function.scalars)
    let wide = choices.chance(50)
    if choices.chance(50) {
      return .jump(
        operation, dst, choices.pick(function.scalars), offset: Int16(distance), wide: wide)
    }
    return .jump(
      operation, dst, immediate: Int32(truncatingIfNeeded: choices.interesting()),
      offset: Int16(distance), wide: wide)
  }

  mutating func skip(_ function: inout FunctionBuilder) {
    let body = arithmetic(count: choices.int(1...4), function)
    function.emit(condition(over: body.count, function))
    function.emit(body)
  }

  /// if (cond) { A } else { B }, the join reached by `ja` or `gotol`.
  mutating func diamond(_ function: inout FunctionBuilder) {
    let then = arithmetic(count: choices.int(1...3), function)
    let otherwise = arithmetic(count: choices.int(1...3), function)
    function.emit(condition(over: otherwise.count + 1, function))
    function.emit(otherwise)
    function.emit(
      choices.chance(50)
        ? .jump(offset: Int16(then.count)) : .longJump(distance: Int32(then.count)))
    function.emit(then)
  }

  /// A loop counting R9 down from 1-6 (unrestricted runaway: thousands,
  /// past small budgets), its body arithmetic and stack accesses.
  mutating func loop(_ function: inout FunctionBuilder, runaway: Bool) {
    guard !function.inLoop else { return }
    let turns = runaway ? Int32(choices.int(1_000...200_000)) : Int32(choices.int(1...6))
    function.emit(.move(.r9, immediate: turns))
    function.inLoop = true
    let start = function.code.count
    for _ in 0..<choices.int(1...3) {
      if choices.chance(30) {
        stackAccess(&function)
      } else {
        function.emit(arithmetic(count: choices.int(1...3), function))
      }
    }
    function.inLoop = false
    let wide = choices.chance(50)
    function.emit(.alu(.add, .r9, source: nil, immediate: -1, wide: wide))
    let back = start - (function.code.count + 1)
    function.emit(.jump(.jne, .r9, immediate: 0, offset: Int16(back), wide: wide))
  }

  /// if (cond) return scalar; (in a subprogram: returns to the caller).
  mutating func earlyExit(_ function: inout FunctionBuilder) {
    let verdict: [Instruction] =
      choices.chance(50)
      ? [.move(.r0, immediate: Int32(choices.int(0...5)))]
      : [.move(.r0, choices.pick(function.scalars))]
    function.emit(condition(over: verdict.count + 1, function))
    function.emit(verdict + [.exit])
  }
}
