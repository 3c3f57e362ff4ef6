import Testing

@testable import BPF

/// One instruction of RFC 9669 with representative fields: one slot, or
/// two for `ld_imm64`.
struct OpcodeCase: CustomTestStringConvertible, Sendable {
  /// A short description for test output (`alu64 sdiv k`).
  var name: String
  /// The slots of the instruction.
  var instructions: [Instruction]

  var testDescription: String { name }
  var bytes: [UInt8] { Instruction.encode(instructions) }
}

/// Every opcode of RFC 9669 (Appendix A), with each variant that the
/// offset, source or immediate field selects: signed division and modulo,
/// sign-extending moves, byte-swap widths, call kinds, atomic operations and
/// `ld_imm64` kinds. Jump-like instructions reach at most 3 slots either
/// way, so a case placed between 4 `exit`s is a valid program.
enum RFC9669Opcodes {
  static let cases: [OpcodeCase] =
    arithmetic + jumps + loadsAndStores + atomics + nonStandardLoads

  /// The largest distance, either way, that a case's jumps and calls span.
  static let reach = 3

  static let binaryOperations: [ArithmeticOperation] = [
    .add, .sub, .mul, .div, .or, .and, .lsh, .rsh, .mod, .xor, .mov, .arsh,
  ]

  static var arithmetic: [OpcodeCase] {
    var cases: [OpcodeCase] = []
    for wide in [false, true] {
      let width = wide ? "alu64" : "alu"
      func add(_ name: String, _ instruction: Instruction) {
        cases.append(OpcodeCase(name: "\(width) \(name)", instructions: [instruction]))
      }
      for (number, operation) in binaryOperations.enumerated() {
        let immediate: Int32 = number.isMultiple(of: 2) ? 20 : -0x1234
        add(
          "\(operation) k",
          Instruction(
            opcode: Opcode.arithmetic(operation, .immediate, wide: wide), dst: .r3,
            immediate: immediate))
        add(
          "\(operation) x",
          Instruction(
            opcode: Opcode.arithmetic(operation, .register, wide: wide), dst: .r9, src: .r4))
      }
      for operation in [ArithmeticOperation.div, .mod] {
        add(
          "s\(operation) k",
          Instruction(
            opcode: Opcode.arithmetic(operation, .immediate, wide: wide), dst: .r2, offset: 1,
            immediate: -7))
        add(
          "s\(operation) x",
          Instruction(
            opcode: Opcode.arithmetic(operation, .register, wide: wide), dst: .r5, src: .r6,
            offset: 1))
      }
      for bits: Int16 in wide ? [8, 16, 32] : [8, 16] {
        add(
          "movsx \(bits)",
          Instruction(
            opcode: Opcode.arithmetic(.mov, .register, wide: wide), dst: .r1, src: .r10,
            offset: bits))
      }
      add("neg", Instruction(opcode: Opcode.arithmetic(.neg, .immediate, wide: wide), dst: .r7))
      let swaps: [OperandSource] = wide ? [.immediate] : [.immediate, .register]
      for source in swaps {
        for bits: Int32 in [16, 32, 64] {
          add(
            "end \(source) \(bits)",
            Instruction(
              opcode: Opcode.arithmetic(.end, source, wide: wide), dst: .r8, immediate: bits))
        }
      }
    }
    return cases
  }

  static let conditions: [JumpOperation] = JumpOperation.allCases.filter(\.isConditional)

  static var jumps: [OpcodeCase] {
    var cases: [OpcodeCase] = []
    for wide in [true, false] {
      let width = wide ? "jmp" : "jmp32"
      for (number, operation) in conditions.enumerated() {
        let offset: Int16 = number.isMultiple(of: 2) ? -3 : 2
        cases.append(
          OpcodeCase(
            name: "\(width) \(operation) k",
            instructions: [
              .jump(
                operation, .r1, immediate: number.isMultiple(of: 3) ? -5 : 0x7f, offset: offset,
                wide: wide)
            ]))
        cases.append(
          OpcodeCase(
            name: "\(width) \(operation) x",
            instructions: [.jump(operation, .r6, .r10, offset: -offset, wide: wide)]))
      }
    }
    cases += [
      OpcodeCase(name: "ja back", instructions: [.jump(offset: -3)]),
      OpcodeCase(name: "ja forward", instructions: [.jump(offset: 0)]),
      OpcodeCase(name: "gotol back", instructions: [.longJump(distance: -2)]),
      OpcodeCase(name: "gotol forward", instructions: [.longJump(distance: 3)]),
      OpcodeCase(name: "call helper", instructions: [.call(helper: 1)]),
      OpcodeCase(name: "call local back", instructions: [.call(local: -3)]),
      OpcodeCase(name: "call local forward", instructions: [.call(local: 1)]),
      OpcodeCase(
        name: "call kfunc",
        instructions: [
          Instruction(
            opcode: Opcode.call, src: Register(rawValue: CallKind.kfunc.rawValue), immediate: 70123)
        ]),
      OpcodeCase(name: "exit", instructions: [.exit]),
    ]
    return cases
  }

  static var loadsAndStores: [OpcodeCase] {
    var cases: [OpcodeCase] = []
    for size in AccessSize.allCases {
      cases.append(
        OpcodeCase(name: "ldx mem \(size)", instructions: [.load(size, .r4, from: .r1, offset: 6)]))
      if size != .doubleWord {
        cases.append(
          OpcodeCase(
            name: "ldx memsx \(size)",
            instructions: [
              Instruction(
                opcode: Opcode.memory(.ldx, .memorySignExtend, size), dst: .r0, src: .r10,
                offset: -0x8000)
            ]))
      }
      cases.append(
        OpcodeCase(
          name: "st mem \(size)",
          instructions: [.store(size, immediate: -9, to: .r10, offset: -16)]))
      cases.append(
        OpcodeCase(
          name: "stx mem \(size)", instructions: [.store(size, .r7, to: .r2, offset: 0x7fff)]))
    }
    return cases
  }

  static var atomics: [OpcodeCase] {
    var cases: [OpcodeCase] = []
    for size in [AccessSize.word, .doubleWord] {
      for operation in AtomicOperation.allCases {
        cases.append(
          OpcodeCase(
            name: "atomic \(size) \(operation)",
            instructions: [
              Instruction(
                opcode: Opcode.memory(.stx, .atomic, size), dst: .r1, src: .r3, offset: -4,
                immediate: operation.rawValue)
            ]))
      }
    }
    return cases
  }

  static var nonStandardLoads: [OpcodeCase] {
    var cases: [OpcodeCase] = [
      OpcodeCase(
        name: "ld_imm64 value", instructions: Instruction.loadImmediate64(.r1, 0x1_0000_0005)),
      OpcodeCase(
        name: "ld_imm64 negative",
        instructions: Instruction.loadImmediate64(.r9, UInt64(bitPattern: -42))),
    ]
    for kind in ImmediateLoadKind.allCases where kind != .value {
      // A code address is relative, like a local call: keep it in reach.
      let value: UInt64 =
        kind == .codeAddress ? UInt64(bitPattern: -2) & 0xffff_ffff : 0x8_0000_0003
      cases.append(
        OpcodeCase(
          name: "ld_imm64 \(kind)",
          instructions: Instruction.loadImmediate64(.r2, value, kind: kind)))
    }
    for mode in [AccessMode.absolute, .indirect] {
      for size in [AccessSize.word, .halfWord, .byte] {
        cases.append(
          OpcodeCase(
            name: "ld \(mode) \(size)",
            instructions: [
              Instruction(
                opcode: Opcode.memory(.ld, mode, size), src: mode == .indirect ? .r3 : .r0,
                immediate: 14)
            ]))
      }
    }
    return cases
  }

  /// Every opcode byte that some case uses.
  static var opcodes: Set<UInt8> { Set(cases.map { $0.instructions[0].opcode }) }
}
