import Testing

@testable import Deployment
@testable import Kernel

@Suite struct VerifierLogTests {
  @Test func namesTheLastPrintedInstruction() {
    let log = VerifierLog(
      """
      func#0 @0
      0: R1=ctx() R10=fp0
      0: (b7) r0 = 2                        ; R0_w=2
      1: (bf) r1 = r3
      R3 !read_ok
      processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
      """)
    #expect(log.rejectedInstruction == 1)
    #expect(log.lastLines(2).hasPrefix("R3 !read_ok"))
  }

  @Test func prefersAnIndexTheErrorNames() {
    let log = VerifierLog("0: (05) goto pc+5\njump out of range from insn 0 to 6\n")
    #expect(log.rejectedInstruction == 0)
    let unreachable = VerifierLog("unreachable insn 4\n")
    #expect(unreachable.rejectedInstruction == 4)
  }
}
