import Testing

@testable import Lab

/// Issue 22: a datapath row is the round, of several alternations of its
/// bare loop and the datapath, whose capacity ratio is the median, with
/// every round's ratio beside it: the kernel's share of a frame drifts
/// between windows by more than the program costs.
struct DatapathRoundsTests {
  /// A software round: its own ns per frame, its reference's, its matched
  /// reference's and an acted rate to tell the rounds apart.
  static func round(
    own: Double?, reference: Double, matched: Double? = nil, acted: Double
  ) -> DatapathBenchRow {
    var row = DatapathBenchRow(
      seconds: 0.5, offeredMpps: 2, receivedMpps: 1.5, actedMpps: acted)
    row.kind = "software"
    row.program = "xdp_tx"
    row.form = "per-packet"
    row.datapathNanosecondsPerPacket = own
    row.referenceNanosecondsPerPacket = reference
    row.matchedReferenceNanosecondsPerPacket = matched
    row.referenceActedMpps = 1.6
    return row
  }

  @Test func theRowIsTheMedianRoundWithEveryRatioBeside() {
    // Ratios 0.9, 0.5 (a window where the kernel's TX path ran slow for
    // the reference alone), 0.8: the median is the third round's.
    let rounds = [
      Self.round(own: 1000, reference: 900, matched: 400, acted: 1),
      Self.round(own: 1000, reference: 500, matched: 300, acted: 2),
      Self.round(own: 1000, reference: 800, matched: 600, acted: 3),
    ]
    var rows = [DatapathBenchRow.median(of: rounds)]
    #expect(rows[0].actedMpps == 3)
    #expect(rows[0].capacityRatioRounds == [0.9, 0.5, 0.8])
    #expect(rows[0].matchedCapacityRatioRounds == [0.4, 0.3, 0.6])
    DatapathBenchRow.addRatios(&rows)
    #expect(rows[0].capacityRatio == 0.8)
    #expect(rows[0].matchedCapacityRatio == 0.6)
  }

  @Test func anEvenCountTakesTheHigherMiddleRound() {
    let rounds = [
      Self.round(own: 100, reference: 40, acted: 1),
      Self.round(own: 100, reference: 70, acted: 2),
      Self.round(own: 100, reference: 60, acted: 3),
      Self.round(own: 100, reference: 50, acted: 4),
    ]
    let row = DatapathBenchRow.median(of: rounds)
    #expect(row.actedMpps == 3)
    #expect(row.capacityRatioRounds == [0.4, 0.7, 0.6, 0.5])
    #expect(row.matchedCapacityRatioRounds == nil)
  }

  /// A round whose datapath timed no frame has no ratio: no median is
  /// made up from the others, the last round stands and no rounds are
  /// listed.
  @Test func aRoundWithoutARatioLeavesTheLastRound() {
    let rounds = [
      Self.round(own: 100, reference: 40, acted: 1),
      Self.round(own: nil, reference: 70, acted: 2),
      Self.round(own: 100, reference: 60, acted: 3),
    ]
    let row = DatapathBenchRow.median(of: rounds)
    #expect(row.actedMpps == 3)
    #expect(row.capacityRatioRounds == nil)
  }
}
