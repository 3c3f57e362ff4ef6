import BPF
import Rewriter
import Testing

@testable import Check
@testable import Engine

/// The check finds differences, not only their absence.
struct DifferenceDetectionTests {
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
