import BPF
import Differential
import Engine
import Testing

/// A bounded run of the differential fuzzer in `make test`: seeded cases
/// of both flavors through the interpreter and the JIT (and, for
/// verifiable cases, the batch form against the per-packet form). `make
/// fuzz` runs the same oracles without bound (README, "Reliability").
@Suite("Differential: the engines agree on generated programs")
struct EngineOracleTests {
  static let cases = 1_200

  @Test(arguments: CaseGenerator.Flavor.allCases)
  func enginesAgree(flavor: CaseGenerator.Flavor) throws {
    let oracle = EngineOracle()
    var executions = 0
    var batchForms = 0
    for seed in 0..<UInt64(Self.cases) {
      let generated = CaseGenerator.generate(
        ChoiceStream(seed: seed ^ (flavor == .verifiable ? 0 : 0xf1a7)), flavor: flavor)
      do {
        let tally = try oracle.compare(generated)
        executions += tally.executions
        batchForms += tally.batchForms
      } catch {
        Issue.record("seed \(seed): \(error)")
        return
      }
    }
    #expect(executions > Self.cases, "each case runs at least one packet in both engines")
    // Unrestricted cases often hold what the rewriter refuses (legacy
    // loads, callx, tail calls, invalid instructions).
    let expected = flavor == .verifiable ? Self.cases * 9 / 10 : Self.cases / 20
    #expect(batchForms > expected, "cases with a batch form")
  }

  /// Raw instructions (the fuzzer's seeds: bpf_conformance's programs and
  /// the samples' sections) go through ``InstructionsOracle``, whose fixed
  /// frames trapped on first use (a byte computed past 255): `make fuzz`
  /// crashed on its first seed, before any comparison. Kept here with a
  /// program that reads each frame's bytes.
  @Test func rawInstructionsRunInBothEngines() throws {
    // r2 = data, r3 = data_end; r0 = the frame's length + its 14th byte.
    let program: [Instruction] = [
      .load(.word, .r2, from: .r1, offset: 0), .load(.word, .r3, from: .r1, offset: 4),
      .move(.r0, .r3), .arithmetic(.sub, .r0, .r2),
      .move(.r4, .r2), .add(.r4, immediate: 14),
      .jump(.jgt, .r4, .r3, offset: 2),
      .load(.byte, .r5, from: .r2, offset: 13), .arithmetic(.add, .r0, .r5),
      .exit,
    ]
    let tally = try InstructionsOracle().compare(program, memory: [1, 2, 3, 4])
    // One conformance run, then three frames per packet and in the batch form.
    #expect(tally.executions == 1 + 3 + 3)
    #expect(tally.batchForms == 1)
  }

  /// A campaign's cases run on more packets (`XDPBATCH_FUZZ_PACKETS`):
  /// the case's own first, then packets of the generator's lengths whose
  /// bytes follow from the case (an input reproduces), all compared.
  @Test(arguments: CaseGenerator.Flavor.allCases)
  func casesRunOnMorePacketsAlike(flavor: CaseGenerator.Flavor) throws {
    let generated = CaseGenerator.generate(ChoiceStream(seed: 77), flavor: flavor)
    let extended = generated.extendingPackets(to: 32)
    #expect(extended.packets.count == 32)
    #expect(Array(extended.packets.prefix(generated.packets.count)) == generated.packets)
    #expect(generated.extendingPackets(to: 32).packets == extended.packets)
    #expect(Set(extended.packets).count == 32, "distinct packets")
    let shortest = flavor == .verifiable ? 14 : 0
    #expect(extended.packets.allSatisfy { (shortest...200).contains($0.count) })
    #expect(extended.extendingPackets(to: 4).packets == extended.packets)
    let tally = try EngineOracle().compare(extended)
    let once = try EngineOracle().compare(generated)
    // An unrestricted case may stop at its first packet with an error.
    if flavor == .verifiable {
      #expect(tally.executions > once.executions, "\(tally.executions) against \(once.executions)")
    } else {
      #expect(tally.executions >= once.executions)
    }
  }
}
