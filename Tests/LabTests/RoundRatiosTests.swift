import BPF
import Foundation
import Testing

@testable import Lab

/// Issue 22: `bench`'s ratios are the medians of per-round ratios of two
/// forms timed back to back, with their quartiles, so that a change of
/// the VM's CPU speed between rounds does not move them.
struct RoundRatiosTests {
  @Test func medianAndQuartilesInterpolate() throws {
    let ratios = try #require(RoundRatios([1.4, 1.0, 1.2, 1.1, 1.3]))
    #expect(ratios.median == 1.2)
    #expect(abs(ratios.lowQuartile - 1.1) < 1e-12)
    #expect(abs(ratios.highQuartile - 1.3) < 1e-12)
    #expect(ratios.rounds == 5)
    let even = try #require(RoundRatios([1, 2, 3, 4]))
    #expect(even.median == 2.5)
    #expect(even.lowQuartile == 1.75 && even.highQuartile == 3.25)
  }

  /// Round 1 switched the CPU to its slow speed between the per-packet
  /// and the batch timing; rounds 2 and 3 ran slow throughout. The
  /// fastest figures pair a fast per-packet round with a slow batch one
  /// (10 / 13: the batch form "loses"); the rounds' median does not.
  @Test func aSpeedChangeInsideARoundDoesNotMoveTheMedian() throws {
    let perPacket = [10.0, 15.0, 15.2]
    let batch = [13.0, 13.5, 13.6]
    let ratios = try #require(RoundRatios(perPacket, over: batch))
    #expect(abs(perPacket.min()! / batch.min()! - 0.769) < 1e-3)
    #expect(abs(ratios.median - 15.0 / 13.5) < 1e-12)
  }

  @Test func noRoundsOrAFormThatTookNoTimeGiveNoRatio() {
    #expect(RoundRatios([]) == nil)
    #expect(RoundRatios([1.0, .infinity]) == nil)
    #expect(RoundRatios([1, 2], over: [1, 0]) == nil)
    #expect(RoundRatios([1, 2], over: [1]) == nil)
  }

  @Test func jsonKeys() throws {
    let data = try JSONCoding.encoder().encode(RoundRatios([1, 2, 3]))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(Set(object.keys) == ["median", "low_quartile", "high_quartile", "rounds"])
  }
}

/// Issue 22: the forms of one measurement take turns in short rounds,
/// each keeping its fastest try in the round.
struct InterleavedRoundsTests {
  @Test func formsTakeTurnsAndKeepTheirFastestTryPerRound() {
    var calls: [Int] = []
    var cost = 0.0
    let best = InterleavedRounds.measure(forms: 2, rounds: 2, tries: 2) { form in
      calls.append(form)
      cost += 1
      return Double(form) * 100 + cost
    }
    // The warm-up round 0 (forward), round 1 reversed, round 2 forward.
    #expect(calls == [0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1])
    // Round 1 ran form 1 at costs 5 and 7, form 0 at 6 and 8; round 2
    // form 0 at 9 and 11, form 1 at 10 and 12.
    #expect(best == [[6, 9], [105, 110]])
  }
}
