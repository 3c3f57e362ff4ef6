import Foundation
import TestSupport
import Testing

@testable import BPF

/// Encodings outside the validator's comfort zone (reserved fields set,
/// unknown opcodes, odd variants) still disassemble as `llvm-objdump` shows
/// them, so that a listing of a broken program reads the same in both.
@Suite(.enabled(if: LLVMToolchain.found != nil, LLVMToolchain.missingReason))
struct IrregularEncodingTests {
  /// Field patterns (dst, src, offset, immediate) tried with every opcode.
  static let patterns: [(UInt8, UInt8, Int16, Int32)] = [
    (0, 0, 0, 0), (1, 2, 0, 0), (1, 2, 1, 7), (3, 0, 8, 16), (3, 4, 16, 32), (5, 6, 32, 64),
    (2, 0, 2, 1), (12, 1, -4, 0x41), (1, 13, 0, 0xe1), (0, 0, 0, 0x100),
  ]

  /// Encodings that LLVM decodes but RFC 9669 does not define, which the
  /// disassembler deliberately leaves `<unknown>`: `callx`, `may_goto`,
  /// `addr_space_cast`, `load_acquire`/`store_release` and LLVM's lenient
  /// decoding of atomics with an unknown immediate as `lock ... +=`.
  static func isLLVMExtension(_ slot: Instruction) -> Bool {
    switch slot.opcode {
    case 0x8d, 0xe5: return true
    case 0xbf: return slot.offset == 1
    default:
      return slot.instructionClass == .stx && slot.accessMode == .atomic
        && AtomicOperation(rawValue: slot.immediate) == nil
    }
  }

  @Test func everyOpcodeByteMatchesObjdump() throws {
    let toolchain = try #require(LLVMToolchain.found)
    var instructions: [Instruction] = []
    for opcode in UInt8.min...UInt8.max where opcode != Opcode.loadImmediate64 {
      for (dst, src, offset, immediate) in Self.patterns {
        instructions.append(
          Instruction(
            opcode: opcode, dst: Register(rawValue: dst), src: Register(rawValue: src),
            offset: offset, immediate: immediate))
      }
    }
    let object = try toolchain.object(
      containing: Instruction.encode(instructions), named: "irregular")
    defer { try? FileManager.default.removeItem(at: object.deletingLastPathComponent()) }
    let listing = try #require(try toolchain.disassemble(object).section(named: ".text"))
    let ours = Disassembler().lines(instructions)
    let theirs = Dictionary(listing.lines.map { ($0.index, $0.text) }) { first, _ in first }
    #expect(ours.map(\.index) == listing.lines.map(\.index))
    for line in ours {
      let slot = instructions[line.index]
      let expected = Self.isLLVMExtension(slot) ? Disassembler.unknown : theirs[line.index]
      #expect(line.text == expected, "opcode 0x\(String(slot.opcode, radix: 16)) \(slot)")
    }
  }
}
