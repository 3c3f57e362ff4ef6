import BPF
import Testing

@testable import Datapath

/// The window after a start or swap in which a queue runs its batches
/// alternately in both forms (issue 22: like with like).
@Suite struct ComparisonWindowTests {
  @Test func alternatesAfterEachSwapThenRunsTheChosenForm() {
    var window = ComparisonWindow()
    var forms: [Form] = []
    var opened = 0
    var measured = 0
    for batch in 0..<(2 * ComparisonWindow.batchesPerForm + 10) {
      let step = window.form(chosen: .batch, swaps: 0, batchAvailable: true, now: UInt64(batch))
      forms.append(step.form)
      if step.opens { opened += 1 }
      if step.measures { measured += 1 }
    }
    #expect(opened == 1)
    #expect(measured == 2 * ComparisonWindow.batchesPerForm)
    #expect(Array(forms.prefix(4)) == [.batch, .perPacket, .batch, .perPacket])
    #expect(
      forms.prefix(measured).filter { $0 == .perPacket }.count == ComparisonWindow.batchesPerForm)
    #expect(forms.dropFirst(measured).allSatisfy { $0 == .batch }, "closed: the chosen form only")

    // A swap opens the next window, starting with the form now chosen.
    let first = window.form(chosen: .perPacket, swaps: 1, batchAvailable: true, now: 1_000)
    #expect(first.opens && first.measures && first.form == .perPacket)
    #expect(
      window.form(chosen: .perPacket, swaps: 1, batchAvailable: true, now: 1_001).form == .batch)
  }

  @Test func closesAfterTheLongestWindowOnceBothFormsRan() {
    var window = ComparisonWindow()
    _ = window.form(chosen: .batch, swaps: 0, batchAvailable: true, now: 0)
    _ = window.form(chosen: .batch, swaps: 0, batchAvailable: true, now: 1)
    let late = window.form(
      chosen: .batch, swaps: 0, batchAvailable: true, now: ComparisonWindow.longest + 2)
    #expect(late.measures, "the batch that closes the window still counts")
    let after = window.form(
      chosen: .batch, swaps: 0, batchAvailable: true, now: ComparisonWindow.longest + 3)
    #expect(!after.measures && after.form == .batch)
  }

  @Test func aProgramWithoutABatchFormRunsPerPacketWithoutAWindow() {
    var window = ComparisonWindow()
    for batch in 0..<10 {
      let step = window.form(
        chosen: .perPacket, swaps: 0, batchAvailable: false, now: UInt64(batch))
      #expect(step.form == .perPacket && !step.opens && !step.measures)
    }
  }
}
