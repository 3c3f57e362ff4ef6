import BPF
import Rewriter
import Testing

@testable import Check
@testable import Engine

/// The check finds differences, not only their absence.
struct DifferenceDetectionTests {
  /// Counts every frame, even an empty one, in an array map, then passes.
  /// Under the `immediate` bound the runner pads a partial batch with empty
  /// frames that the program runs on too: the map shows it, and only that
  /// bound differs.
  static let countsEveryFrame = Program(
    name: "counts_every_frame", sectionName: "xdp",
    instructions: [
      .store(.word, immediate: 0, to: .r10, offset: -4),
      .move(.r2, .r10),
      .add(.r2, immediate: -4),
    ] + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: 3),
      .load(.doubleWord, .r1, from: .r0, offset: 0),
      .add(.r1, immediate: 1),
      .store(.doubleWord, .r1, to: .r0, offset: 0),
      .move(.r0, immediate: 2),
      .exit,
    ])
  static let counter = MapDefinition(
    name: "frames", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)

  @Test func paddingRecordsShowInMapsUnderImmediate() throws {
    let result = try EquivalenceCheck(packets: 1_000).run(
      Self.countsEveryFrame, maps: [Self.counter])
    for outcome in result.variants {
      if outcome.variant.bound == .immediate {
        #expect(outcome.mismatches > 0, "\(outcome.variant)")
        guard case .map(let name, _, _) = outcome.firstDifference else {
          Issue.record(
            "\(outcome.variant): expected a map difference, got \(String(describing: outcome.firstDifference))"
          )
          continue
        }
        #expect(name == "frames")
      } else {
        #expect(
          outcome.mismatches == 0,
          "\(outcome.variant): \(String(describing: outcome.firstDifference))")
      }
    }
    #expect(!result.isEquivalent)
  }

  @Test func outcomesThatDifferAreNamed() {
    let base = PacketOutcome(action: .pass, returnValue: 2, output: [1, 2, 3], redirect: nil)
    var verdict = base
    verdict.returnValue = 1
    verdict.action = .drop
    #expect(Difference(base, verdict, packet: 7) == .verdict(packet: 7, expected: 2, actual: 1))
    var bytes = base
    bytes.output = [1, 9, 3]
    #expect(
      Difference(base, bytes, packet: 3)
        == .output(packet: 3, expectedLength: 3, actualLength: 3, firstDifferingByte: 1))
    var redirect = base
    redirect.redirect = .interface(5)
    #expect(
      Difference(base, redirect, packet: 0)
        == .redirect(packet: 0, expected: nil, actual: .interface(5)))
    #expect(Difference(base, base, packet: 0) == nil)
    #expect(Difference(base, verdict, packet: 7)?.description.contains("packet 7") == true)
  }
}
