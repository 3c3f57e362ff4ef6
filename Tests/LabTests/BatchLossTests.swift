import BPF
import Foundation
import Testing

@testable import Lab

/// Issue 22: a sample whose batch form loses says why, in `bench`'s table
/// and under `batch_loses` in `--json`: the loss, the saved call and the
/// loop's step (a program that only returns), and the body in each form.
struct BatchLossTests {
  static func row(_ program: String, _ call: String, perPacket: Double, batch: Double?)
    -> BatchingFigure
  {
    BatchingFigure(
      program: program, call: call, perPacketNanoseconds: perPacket, batchNanoseconds: batch,
      speedup: batch.map { perPacket / $0 })
  }

  let rows = [
    row("a.o:a", "direct", perPacket: 10, batch: 12),
    row("a.o:a", "retpoline", perPacket: 16, batch: 12),
    row("b.o:b", "direct", perPacket: 8, batch: 8),
    row("t.o:t", "direct", perPacket: 5, batch: nil),
  ]
  let reference = [
    row("return_only", "direct", perPacket: 3, batch: 1.5),
    row("return_only", "retpoline", perPacket: 9, batch: 1.5),
  ]

  @Test func onlyALosingRowSaysWhyWithItsFigures() {
    let explained = BatchingFigure.explainingLosses(rows, reference: reference)
    #expect(
      explained[0].batchLoss
        == "the batch form loses: 0.83x per packet over batch (batch 12.0, per packet 10.0 ns):"
        + " the direct call it saves costs 3.0 ns and"
        + " its loop step 1.5 ns (a program that only returns); the body takes 10.5 ns in the"
        + " loop against 7.0 ns per call")
    // A win, a tie and a program with no batch form say nothing.
    #expect(explained[1...].allSatisfy { $0.batchLoss == nil })
  }

  @Test func aLossWithoutTheReferenceStillSaysItLost() {
    let explained = BatchingFigure.explainingLosses(rows, reference: [])
    #expect(
      explained[0].batchLoss
        == "the batch form loses: 0.83x per packet over batch (batch 12.0, per packet 10.0 ns)"
        + " (the call and the loop step were not measured)")
  }

  @Test func theJSONKeyIsBatchLoses() throws {
    let explained = BatchingFigure.explainingLosses(rows, reference: reference)
    let data = try JSONCoding.encoder().encode(explained)
    let array = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    #expect(array[0]["batch_loses"] as? String == explained[0].batchLoss)
    #expect(array[2]["batch_loses"] is NSNull)
  }
}
