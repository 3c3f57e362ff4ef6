import BPF
import Differential
import Testing

/// The assembler that reads bpf_conformance's `.data` files (for the
/// fuzzer's seeds): each mnemonic family to its RFC 9669 encoding.
@Suite("Differential: bpf_conformance's assembly")
struct ConformanceAssemblerTests {
  func slots(_ source: String) throws -> [String] {
    try ConformanceAssembler.assemble(source).map { instruction in
      Instruction.encode([instruction]).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        .joined()
    }
  }

  @Test func arithmeticJumpsAndMemory() throws {
    #expect(try slots("mov %r1, 1") == ["b701000001000000"])
    #expect(try slots("mov32 %r1, -1") == ["b4010000ffffffff"])
    #expect(try slots("add %r0, %r9") == ["0f90000000000000"])
    #expect(try slots("sdiv32 %r2, 3") == ["3402010003000000"])
    #expect(try slots("smod %r2, %r3") == ["9f32010000000000"])
    #expect(try slots("movsx832 %r0, %r1") == ["bc10080000000000"])
    #expect(try slots("movsx3264 %r0, %r1") == ["bf10200000000000"])
    #expect(try slots("neg32 %r3") == ["8403000000000000"])
    #expect(try slots("be16 %r4") == ["dc04000010000000"])
    #expect(try slots("le64 %r4") == ["d404000040000000"])
    #expect(try slots("bswap32 %r5") == ["d705000020000000"])
    #expect(try slots("lddw %r0, 0x123456789abcdef0") == ["18000000f0debc9a", "0000000078563412"])
    #expect(try slots("ldxdw %r1, [%r10-8]") == ["79a1f8ff00000000"])
    #expect(try slots("ldxsh %r0, [%r1+2]") == ["8910020000000000"])
    #expect(try slots("stb [%r1+2], 0x11") == ["7201020011000000"])
    #expect(try slots("stxw [%r10-4], %r3") == ["633afcff00000000"])
    #expect(try slots("lock fetch add32 [%r1+4], %r2") == ["c321040001000000"])
    #expect(try slots("lock cmpxchg [%r10-8], %r1") == ["db1af8fff1000000"])
    #expect(try slots("call 5") == ["8500000005000000"])
    #expect(try slots("call %r2") == ["8d02000000000000"])
    #expect(try slots("exit") == ["9500000000000000"])
  }

  @Test func labelsAndRelativeTargets() throws {
    let source = """
      # a loop to a label, a forward jump, a 32-bit jump and a local call
      mov %r0, 0
      top:
        add %r0, 1
        jlt32 %r0, 3, top   # back to top
        ja +1
        mov %r0, 9
        call local f
        exit
      f:
        ja32 done
      done:
        exit
      """
    #expect(
      try slots(source) == [
        "b700000000000000", "0700000001000000", "a600feff03000000", "0500010000000000",
        "b700000009000000", "8510000001000000", "9500000000000000", "0600000000000000",
        "9500000000000000",
      ])
  }

  @Test func dataFilesGiveProgramMemoryAndResult() throws {
    let text = """
      # comment
      -- asm
      ldxw %r0, [%r1+4]
      exit
      -- mem
      00 01 02 03
      04 05 06 07
      -- result
      0x7060504
      """
    let vector = try ConformanceVector(name: "t.data", text: text)
    #expect(vector.instructions.count == 2)
    #expect(vector.memory == [0, 1, 2, 3, 4, 5, 6, 7])
    #expect(vector.result == 0x0706_0504)
    #expect(throws: ConformanceAssembler.Failure.self) {
      _ = try ConformanceAssembler.assemble("frobnicate %r1")
    }
  }
}
