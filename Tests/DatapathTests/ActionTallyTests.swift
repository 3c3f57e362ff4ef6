import BPF
import Testing

@testable import Datapath

/// A batch counted at once from the runner's per-action counts, with only
/// the frames that did not end done corrected (``ActionTally/settle``),
/// counts what counting each frame on its own counts: a frame gathered
/// for a send is in no count yet, a failed PASS or TX counts under its
/// action and as failed, a failed REDIRECT only as failed, by reason.
struct ActionTallyTests {
  /// One batch: every action done, and every outcome that is not done.
  static let frames: [(XDPAction, UInt64, ActionTally.Outcome)] = [
    (.aborted, 60, .done), (.drop, 61, .done), (.pass, 62, .done), (.tx, 63, .done),
    (.redirect, 64, .done), (.pass, 65, .gathered), (.redirect, 66, .gathered),
    (.pass, 67, .passFailed), (.tx, 68, .transmitFailed), (.redirect, 69, .redirectUnsent),
    (.redirect, 70, .redirectToSocket), (.redirect, 71, .redirectToProcessor),
    (.redirect, 72, .redirectBroadcast), (.drop, 73, .done),
  ]

  @Test func aBatchCountedPerActionCountsAsEachFrameOnItsOwn() {
    let perFrameBuffer = ActionTally.allocateBuffer()
    let perBatchBuffer = ActionTally.allocateBuffer()
    defer {
      perFrameBuffer.deallocate()
      perBatchBuffer.deallocate()
    }
    var perFrame = ActionTally(over: perFrameBuffer)
    for (action, bytes, outcome) in Self.frames {
      perFrame.add(action, bytes: bytes, outcome: outcome)
    }
    var perBatch = ActionTally(over: perBatchBuffer)
    for action in XDPAction.allCases {
      let frames = Self.frames.filter { $0.0 == action }
      perBatch.add(action, packets: frames.count, bytes: frames.reduce(0) { $0 + $1.1 })
    }
    for (action, bytes, outcome) in Self.frames where outcome != .done {
      perBatch.settle(action, bytes: bytes, outcome: outcome)
    }
    var expected = QueueReport()
    perFrame.add(to: &expected)
    var counted = QueueReport()
    perBatch.add(to: &counted)
    #expect(counted.totals == expected.totals)
    #expect(counted.redirectFailures == expected.redirectFailures)
    #expect(counted.redirectErrors == expected.redirectErrors)
    // The values themselves: what each side must count.
    #expect(counted.totals.actions[.pass] == ActionCount(packets: 2, bytes: 62 + 67))
    #expect(counted.totals.actions[.tx] == ActionCount(packets: 2, bytes: 63 + 68))
    #expect(counted.totals.actions[.redirect] == ActionCount(packets: 1, bytes: 64))
    #expect(counted.totals.actions[.drop] == ActionCount(packets: 2, bytes: 61 + 73))
    #expect(counted.totals.redirectFailed == ActionCount(packets: 4, bytes: 69 + 70 + 71 + 72))
    #expect(counted.totals.passFailed == ActionCount(packets: 1, bytes: 67))
    #expect(counted.totals.transmitFailed == ActionCount(packets: 1, bytes: 68))
    #expect(counted.redirectErrors.total == 4)
  }
}
