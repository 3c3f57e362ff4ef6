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
}
