import Testing

@testable import BPF

/// Programs the validator must reject, each with the error and the slot
/// index it must name.
@Suite struct InstructionValidatorTests {
  struct Rejection: CustomTestStringConvertible, Sendable {
    var name: String
    var program: [Instruction]
    var error: InstructionError
    var testDescription: String { name }
  }

  static let r11 = Register(rawValue: 11)
  static let ok = Instruction.move(.r0, immediate: 0)
  static let wide = Instruction.loadImmediate64(.r1, 0x1_0000_0002)

  static let rejections: [Rejection] = [
    Rejection(
      name: "unknown opcode (neg with register source)",
      program: [ok, Instruction(opcode: 0x8c, dst: .r1), .exit],
      error: .unknownOpcode(index: 1, opcode: 0x8c)),
    Rejection(
      name: "unknown opcode (ld abs dw)", program: [ok, ok, Instruction(opcode: 0x38), .exit],
      error: .unknownOpcode(index: 2, opcode: 0x38)),
    Rejection(
      name: "unknown opcode (ldx memsx dw)",
      program: [Instruction(opcode: 0x99, dst: .r1, src: .r2), .exit],
      error: .unknownOpcode(index: 0, opcode: 0x99)),
    Rejection(
      name: "unknown opcode (call in jmp32)", program: [ok, Instruction(opcode: 0x86), .exit],
      error: .unknownOpcode(index: 1, opcode: 0x86)),
    Rejection(
      name: "bad destination register", program: [ok, .move(r11, immediate: 1), .exit],
      error: .invalidRegister(index: 1, register: 11)),
    Rejection(
      name: "bad source register",
      program: [.load(.word, .r1, from: Register(rawValue: 15), offset: 0), .exit],
      error: .invalidRegister(index: 0, register: 15)),
    Rejection(
      name: "nonzero source in immediate form",
      program: [
        ok,
        Instruction(opcode: Opcode.arithmetic(.add, .immediate, wide: true), dst: .r1, src: .r2),
        .exit,
      ],
      error: .invalidField(index: 1, field: "source register", value: 2)),
    Rejection(
      name: "nonzero immediate in register form",
      program: [
        Instruction(
          opcode: Opcode.arithmetic(.add, .register, wide: true), dst: .r1, src: .r2, immediate: 5),
        .exit,
      ],
      error: .invalidField(index: 0, field: "immediate", value: 5)),
    Rejection(
      name: "nonzero offset in add",
      program: [ok, ok, Instruction(opcode: 0x07, dst: .r1, offset: 1), .exit],
      error: .invalidField(index: 2, field: "offset", value: 1)),
    Rejection(
      name: "exit with immediate", program: [ok, Instruction(opcode: Opcode.exit, immediate: 1)],
      error: .invalidField(index: 1, field: "immediate", value: 1)),
    Rejection(
      name: "32-bit movsx from 32 bits",
      program: [
        Instruction(
          opcode: Opcode.arithmetic(.mov, .register, wide: false), dst: .r1, src: .r2, offset: 32),
        .exit,
      ],
      error: .invalidField(index: 0, field: "offset", value: 32)),
    Rejection(
      name: "call kind 3",
      program: [Instruction(opcode: Opcode.call, src: .r3, immediate: 1), .exit],
      error: .invalidField(index: 0, field: "call kind", value: 3)),
    Rejection(
      name: "ld_imm64 kind 7",
      program: [Instruction(opcode: 0x18, dst: .r1, src: .r7), Instruction(opcode: 0), .exit],
      error: .invalidField(index: 0, field: "ld_imm64 kind", value: 7)),
    Rejection(
      name: "ld_imm64 last", program: [ok, .exit, wide[0]], error: .malformedWideLoad(index: 2)),
    Rejection(
      name: "ld_imm64 second slot with opcode", program: [ok, wide[0], .exit, .exit],
      error: .malformedWideLoad(index: 1)),
    Rejection(
      name: "ld_imm64 second slot with register",
      program: [wide[0], Instruction(opcode: 0, dst: .r1), .exit],
      error: .malformedWideLoad(index: 0)),
    Rejection(
      name: "jump past the end", program: [ok, .jump(.jeq, .r0, immediate: 0, offset: 1), .exit],
      error: .jumpOutOfRange(index: 1, target: 3)),
    Rejection(
      name: "jump before the start", program: [ok, .jump(offset: -3), .exit],
      error: .jumpOutOfRange(index: 1, target: -1)),
    Rejection(
      name: "gotol past the end", program: [.longJump(distance: 2), .exit],
      error: .jumpOutOfRange(index: 0, target: 3)),
    Rejection(
      name: "jump into ld_imm64", program: [.jump(offset: 1)] + wide + [.exit],
      error: .jumpOutOfRange(index: 0, target: 2)),
    Rejection(
      name: "local call past the end", program: [.call(local: 5), .exit],
      error: .jumpOutOfRange(index: 0, target: 6)),
    Rejection(
      name: "local call into ld_imm64",
      program: [ok, .exit] + wide + [.exit, .call(local: -3), .exit],
      error: .jumpOutOfRange(index: 5, target: 3)),
    Rejection(
      name: "code address past the end",
      program: Instruction.loadImmediate64(.r1, 9, kind: .codeAddress) + [.exit],
      error: .jumpOutOfRange(index: 0, target: 10)),
    Rejection(name: "falls off the end", program: [ok, ok], error: .fallsOffEnd(index: 1)),
    Rejection(
      name: "conditional jump last", program: [ok, .jump(.jne, .r0, immediate: 1, offset: -2)],
      error: .fallsOffEnd(index: 1)),
    Rejection(
      name: "ld_imm64 last instruction", program: [ok] + wide, error: .fallsOffEnd(index: 1)),
    Rejection(name: "call last", program: [ok, .call(helper: 1)], error: .fallsOffEnd(index: 1)),
    Rejection(
      name: "bad atomic immediate",
      program: [
        ok,
        Instruction(
          opcode: Opcode.memory(.stx, .atomic, .word), dst: .r1, src: .r2, immediate: 0x02), .exit,
      ],
      error: .invalidField(index: 1, field: "atomic operation", value: 2)),
    Rejection(
      name: "atomic of one byte",
      program: [
        Instruction(opcode: Opcode.memory(.stx, .atomic, .byte), dst: .r1, src: .r2), .exit,
      ],
      error: .unknownOpcode(index: 0, opcode: 0xd3)),
    Rejection(
      name: "bad byte swap width",
      program: [
        ok,
        Instruction(
          opcode: Opcode.arithmetic(.end, .register, wide: false), dst: .r1, immediate: 8), .exit,
      ],
      error: .invalidField(index: 1, field: "byte swap width", value: 8)),
    Rejection(name: "empty program", program: [], error: .emptyProgram),
  ]

  @Test(arguments: rejections)
  func rejects(_ rejection: Rejection) {
    #expect(throws: rejection.error) {
      try InstructionValidator().validate(rejection.program)
    }
  }

  @Test func acceptsJumpsToBothEnds() throws {
    let program: [Instruction] =
      [.jump(.jeq, .r1, immediate: 0, offset: 4)] + Self.wide
      + [.jump(offset: -4), .call(local: -5), .exit]
    try InstructionValidator().validate(program)
  }

  @Test func messagesNameTheInstruction() {
    let errors: [InstructionError] = [
      .fallsOffEnd(index: 7), .jumpOutOfRange(index: 7, target: 99), .malformedWideLoad(index: 7),
      .invalidField(index: 7, field: "atomic operation", value: 2),
    ]
    for error in errors {
      #expect(error.description.hasPrefix("instruction 7: "))
    }
  }
}
