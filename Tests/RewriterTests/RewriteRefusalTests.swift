import BPF
import Rewriter
import Testing

/// Inputs the rewriter refuses before rewriting: what is no valid eBPF
/// program, and what the kernel's verifier refuses in an XDP program.
@Suite("The rewriter refuses invalid inputs and what the kernel refuses")
struct RewriteRefusalTests {
  static func program(_ instructions: [Instruction]) -> Program {
    Program(name: "input", sectionName: "xdp", instructions: instructions)
  }

  /// Regression (issue 23): an object using registers 11-15 got "internal
  /// error, the rewritten program fails the safety check" instead of a
  /// refusal of its input.
  @Test func registersAboveR10AreRefusedAsInput() {
    for register: UInt8 in 11...15 {
      let input = Self.program([
        Instruction(opcode: 0xb7, dst: Register(rawValue: register), immediate: 1),
        .move(.r0, immediate: 2), .exit,
      ])
      #expect(
        throws: RewriteError.invalidInstruction(.invalidRegister(index: 0, register: register))
      ) {
        _ = try BatchTrampoline().rewrite(input)
      }
    }
  }

  /// Regression (issue 23): `ld_abs`/`ld_ind` were rewritten, and the batch
  /// form read every packet's bytes from the last one (`check` reported
  /// 1,774-4,096 mismatches while `rewrite` exited 0). The kernel refuses
  /// them in XDP programs; so does the rewriter, with the kernel's words.
  @Test func legacyPacketLoadsAreRefused() {
    for load in [Instruction(opcode: 0x30, immediate: 12), Instruction(opcode: 0x50, src: .r6)] {
      let input = Self.program([.move(.r6, immediate: 0), load, .move(.r0, immediate: 2), .exit])
      for strategy in BatchStrategy.allCases {
        let refusal = RewriteError.refusedByVerifier(
          VerifierRefusal(
            index: 1, reason: "BPF_LD_[ABS|IND] instructions not allowed for this program type"))
        #expect(throws: refusal) { _ = try BatchTrampoline(strategy: strategy).rewrite(input) }
        #expect(
          refusal.description
            == "instruction 1: the kernel refuses this in an XDP program: BPF_LD_[ABS|IND] "
            + "instructions not allowed for this program type; the kernel would not load the "
            + "program, so there is no batch form to build")
      }
    }
  }

  @Test func callxAndUnknownHelpersAreRefused() {
    let callx = Self.program([
      .move(.r2, immediate: 7), Instruction(opcode: Opcode.callRegister, dst: .r2), .exit,
    ])
    #expect(
      throws: RewriteError.refusedByVerifier(
        VerifierRefusal(index: 1, reason: "BPF_CALL uses reserved fields"))
    ) { _ = try BatchTrampoline().rewrite(callx) }
    let unknown = Self.program([.call(helper: 4096), .exit])
    #expect(
      throws: RewriteError.refusedByVerifier(
        VerifierRefusal(index: 0, reason: "invalid func unknown#4096"))
    ) { _ = try BatchTrampoline().rewrite(unknown) }
  }
}
