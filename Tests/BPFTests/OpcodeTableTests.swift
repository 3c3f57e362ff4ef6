import Foundation
import TestSupport
import Testing

@testable import BPF

/// Every opcode of RFC 9669: encoding round trip, validator, and
/// disassembly against `llvm-objdump -d` of the same bytes.
@Suite struct OpcodeTableTests {
  /// `exit` slots around each case, so that its jumps stay inside.
  static func program(around instructions: [Instruction]) -> [Instruction] {
    let padding = [Instruction](repeating: .exit, count: RFC9669Opcodes.reach + 1)
    return padding + instructions + padding
  }

  @Test(arguments: RFC9669Opcodes.cases)
  func encodingRoundTrips(_ opcodeCase: OpcodeCase) throws {
    let bytes = opcodeCase.bytes
    #expect(bytes.count == opcodeCase.instructions.count * Instruction.size)
    #expect(Instruction.encode(try Instruction.decode(littleEndian: bytes)) == bytes)
    #expect(try Instruction.decode(littleEndian: bytes) == opcodeCase.instructions)
  }

  @Test(arguments: RFC9669Opcodes.cases)
  func validatorAccepts(_ opcodeCase: OpcodeCase) {
    #expect(throws: Never.self) {
      try InstructionValidator().validate(Self.program(around: opcodeCase.instructions))
    }
  }

  @Test func tableCoversEveryInstructionFamily() {
    // 2 classes x (12 ops x 2 sources + sdiv/smod x 2 + neg) + movsx 2+3 + end 6 + bswap 3
    #expect(RFC9669Opcodes.arithmetic.count == 2 * (24 + 4 + 1) + 5 + 6 + 3)
    // 2 classes x 11 conditions x 2 sources, ja, gotol, call, exit
    #expect(Set(RFC9669Opcodes.jumps.map { $0.instructions[0].opcode }).count == 2 * 22 + 4)
    // ldx 4 + 3, st 4, stx 4 + atomic 2, ld: imm64 + 3 abs + 3 ind
    let memory = RFC9669Opcodes.opcodes.filter { $0 & 0x07 <= 0x03 }
    #expect(memory.count == 7 + 4 + 4 + 2 + 7)
  }

  /// Every opcode byte outside the table is rejected as unknown, whatever
  /// its other fields: the validator accepts RFC 9669 and, of the
  /// extensions, only `callx` (below), which the engine runs.
  @Test func everyOtherOpcodeIsUnknown() {
    let known = RFC9669Opcodes.opcodes
    for opcode in UInt8.min...UInt8.max
    where !known.contains(opcode) && opcode != Opcode.callRegister {
      for slot in [
        Instruction(opcode: opcode), Instruction(opcode: opcode, dst: .r1, src: .r2, immediate: 32),
      ] {
        #expect(throws: InstructionError.unknownOpcode(index: 4, opcode: opcode)) {
          try InstructionValidator().validate(Self.program(around: [slot]))
        }
      }
    }
  }

  /// `callx` (0x8d) names its register in `dst`; every other field is zero.
  @Test func callxIsAcceptedWithItsRegisterOnly() {
    let callx = Instruction(opcode: Opcode.callRegister, dst: .r3)
    #expect(throws: Never.self) {
      try InstructionValidator().validate(Self.program(around: [callx]))
    }
    var withSource = callx
    withSource.src = .r2
    var withImmediate = callx
    withImmediate.immediate = 1
    for slot in [withSource, withImmediate] {
      #expect(throws: InstructionError.self) {
        try InstructionValidator().validate(Self.program(around: [slot]))
      }
    }
  }

  @Test(
    .enabled(if: LLVMToolchain.found != nil, LLVMToolchain.missingReason),
    arguments: [true, false])
  func disassemblyMatchesObjdump(hexadecimal: Bool) throws {
    let toolchain = try #require(LLVMToolchain.found)
    var instructions: [Instruction] = []
    var starts: [(Int, OpcodeCase)] = []
    for opcodeCase in RFC9669Opcodes.cases {
      starts.append((instructions.count, opcodeCase))
      instructions += opcodeCase.instructions + [.exit]
    }
    let object = try toolchain.object(
      containing: Instruction.encode(instructions), named: "opcodes")
    defer { try? FileManager.default.removeItem(at: object.deletingLastPathComponent()) }
    let listing = try #require(
      try toolchain.disassemble(object, hexadecimal: hexadecimal).section(named: ".text"))
    let theirs = Dictionary(
      listing.lines.map { ($0.index, $0) }, uniquingKeysWith: { first, _ in first })
    let ours = Disassembler(numberStyle: hexadecimal ? .hexadecimal : .decimal).lines(instructions)
    let mine = Dictionary(ours.map { ($0.index, $0) }, uniquingKeysWith: { first, _ in first })
    #expect(ours.count == listing.lines.count)
    for (start, opcodeCase) in starts {
      let reference = try #require(
        theirs[start], "objdump has no line at \(start) for \(opcodeCase.name)")
      let line = try #require(mine[start])
      #expect(reference.bytes == opcodeCase.bytes, "\(opcodeCase.name)")
      #expect(reference.text != Disassembler.unknown, "objdump cannot decode \(opcodeCase.name)")
      #expect(line.text == reference.text, "\(opcodeCase.name)")
      #expect(line.slotCount == opcodeCase.instructions.count, "\(opcodeCase.name)")
    }
  }
}
