import Foundation
import TestSupport
import Testing

@testable import BPF

/// Every instruction of every bundled sample, read from its section by
/// ``BPFObject`` and rendered by ``Disassembler``, against the toolchain's
/// `llvm-objdump -d`.
@Suite(
  .enabled(if: LLVMToolchain.found != nil, LLVMToolchain.missingReason))
struct SampleDisassemblyTests {
  static let samples = ObjectFixtures.samplePaths.map(URL.init(fileURLWithPath:))

  @Test(arguments: samples, [true, false])
  func disassemblyMatchesObjdump(_ sample: URL, hexadecimal: Bool) throws {
    let toolchain = try #require(LLVMToolchain.found)
    let listing = try toolchain.disassemble(sample, hexadecimal: hexadecimal)
    #expect(!listing.sections.isEmpty, "objdump listed no code in \(sample.lastPathComponent)")
    let object = try BPFObject(contentsOf: sample.path)
    let disassembler = Disassembler(numberStyle: hexadecimal ? .hexadecimal : .decimal)
    #expect(
      Set(object.executableSections.map(\.name)) == Set(listing.sections.map(\.name)),
      "\(sample.lastPathComponent): executable sections differ from objdump's")
    for section in listing.sections {
      let raw = try #require(object.section(named: section.name), "\(section.name)")
      #expect(Instruction.encode(raw.instructions) == section.bytes, "\(section.name) bytes")
      let ours = disassembler.lines(raw.instructions)
      #expect(ours.count == section.lines.count, "\(sample.lastPathComponent) \(section.name)")
      for (mine, theirs) in zip(ours, section.lines) {
        #expect(mine.index == theirs.index, "\(sample.lastPathComponent) \(section.name)")
        #expect(mine.slotCount * Instruction.size == theirs.bytes.count)
        #expect(
          mine.text == theirs.text,
          "\(sample.lastPathComponent) \(section.name) instruction \(theirs.index)")
      }
    }
  }

  @Test(arguments: samples)
  func encodingRoundTrips(_ sample: URL) throws {
    let toolchain = try #require(LLVMToolchain.found)
    for section in try toolchain.disassemble(sample).sections {
      let bytes = section.bytes
      let instructions = try Instruction.decode(littleEndian: bytes)
      #expect(instructions.count * Instruction.size == bytes.count)
      #expect(
        Instruction.encode(instructions) == bytes, "\(sample.lastPathComponent) \(section.name)")
    }
  }

  @Test(arguments: samples)
  func validatorAcceptsEverySection(_ sample: URL) throws {
    let toolchain = try #require(LLVMToolchain.found)
    for section in try toolchain.disassemble(sample).sections {
      let instructions = try Instruction.decode(littleEndian: section.bytes)
      #expect(throws: Never.self, "\(sample.lastPathComponent) \(section.name)") {
        try InstructionValidator().validate(instructions)
      }
    }
  }
}
