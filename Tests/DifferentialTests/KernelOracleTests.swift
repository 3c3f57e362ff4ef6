import Differential
import DifferentialKernel
import Engine
import Testing

/// A bounded run of the third oracle in `make test`: seeded verifiable
/// cases loaded in the kernel and run with `BPF_PROG_TEST_RUN`, both
/// engines against it. A program the verifier refuses is counted as not
/// comparable, and the generator must keep that rare (a generator that
/// drifts into programs the kernel refuses would test nothing).
@Suite(
  "Differential: the engines agree with the kernel on generated programs",
  .enabled(
    if: KernelOracle.unavailableReason == nil,
    Comment(rawValue: KernelOracle.unavailableReason ?? "")))
struct KernelOracleTests {
  static let cases = 300

  @Test func enginesAgreeWithTheKernel() throws {
    let oracle = KernelOracle()
    var agreed = 0
    var executions = 0
    var refusals: [String: Int] = [:]
    for seed in 0..<UInt64(Self.cases) {
      let generated = CaseGenerator.generate(
        ChoiceStream(seed: 0x6b65_726e ^ seed), flavor: .verifiable)
      do {
        switch try oracle.compare(generated) {
        case .agreed(let count):
          agreed += 1
          executions += count
        case .notComparable(let reason):
          refusals[reason, default: 0] += 1
        }
      } catch {
        Issue.record("seed \(seed): \(error)")
        return
      }
    }
    #expect(
      agreed >= Self.cases * 95 / 100,
      "the verifier refused \(Self.cases - agreed) of \(Self.cases): \(refusals.sorted { $0.value > $1.value }.prefix(5))"
    )
    #expect(executions >= agreed * 2, "each agreed case runs its packets in both engines")
  }
}
