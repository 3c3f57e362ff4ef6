import Testing

@testable import BPF

@Suite struct InstructionEncodingTests {
  @Test func wideLoadRoundTrips() throws {
    let bytes: [UInt8] = [
      0x18, 0x21, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12,
      0x00, 0x00, 0x00, 0x00, 0xef, 0xcd, 0xab, 0x90,
    ]
    let instructions = try Instruction.decode(littleEndian: bytes)
    #expect(instructions.count == 2)
    #expect(instructions[0].isWideImmediateLoad)
    #expect(instructions[0].dst == .r1)
    #expect(instructions[0].src == .r2)
    #expect(instructions[0].immediate == 0x1234_5678)
    #expect(instructions[1].immediate == Int32(bitPattern: 0x90ab_cdef))
    #expect(Instruction.encode(instructions) == bytes)
  }

  @Test func truncatedStreamIsRejected() {
    #expect(throws: InstructionError.truncatedStream(byteCount: 7)) {
      try Instruction.decode(littleEndian: [UInt8](repeating: 0, count: 7))
    }
  }
}
