import BPF
import Foundation
import Kernel
import Testing

@testable import Deployment

@Suite struct CounterTrackerTests {
  func sample(
    _ time: Double, map: UInt32 = 1, drop: UInt64, program: UInt32 = 1, runs: UInt64 = 0
  ) -> CounterSample {
    var actions = ActionCounts()
    actions[.drop] = ActionCount(packets: drop, bytes: drop &* 64)
    return CounterSample(
      time: time, mapID: map, actions: actions, programID: program, runCount: runs,
      runTimeNanoseconds: runs &* 10)
  }

  @Test func ratesComeFromDeltas() {
    var tracker = CounterTracker()
    _ = tracker.record(sample(0, drop: 100))
    let report = tracker.record(sample(2, drop: 300))
    #expect(report.totals[.drop].packets == 300)
    #expect(report.packetsPerSecond[.drop] == 100)
    #expect(report.packetsPerSecond[.pass] == 0)
    // 200 packets of 64 bytes over 2 s.
    let bytesPerSecond: Double = 200 * 64 / 2
    #expect(report.bytesPerSecond[.drop] == bytesPerSecond)
    #expect(report.bytesPerSecond[.pass] == 0)
  }

  @Test func resetBaselineCountsFromTheLastSampleOn() {
    var tracker = CounterTracker()
    _ = tracker.record(sample(0, drop: 1_000, runs: 1_000))
    _ = tracker.record(sample(1, drop: 1_500, runs: 1_500))
    tracker.resetBaseline()
    #expect(tracker.totals[.drop].packets == 0)
    let report = tracker.record(sample(2, drop: 1_700, runs: 1_700))
    // Only the 200 packets after the reset count; the rate is unaffected.
    #expect(report.totals[.drop].packets == 200)
    #expect(report.totals[.drop].bytes == 200 * 64)
    #expect(report.packetsPerSecond[.drop] == 200)
    #expect(tracker.runs == 200)
  }

  @Test func wrappingCounterStaysContinuous() {
    var tracker = CounterTracker()
    _ = tracker.record(sample(0, drop: UInt64.max - 4))
    let report = tracker.record(sample(1, drop: 5))
    // 10 packets crossed the wrap: the total keeps counting modulo 2^64.
    #expect(report.packetsPerSecond[.drop] == 10)
    #expect(report.totals[.drop].packets == (UInt64.max - 4) &+ 10)
  }

  @Test func replacedProgramAndNewMapDoNotStepBack() {
    var tracker = CounterTracker()
    _ = tracker.record(sample(0, drop: 50, program: 1, runs: 50))
    _ = tracker.record(sample(1, drop: 80, program: 1, runs: 80))
    let swapped = tracker.record(sample(2, drop: 90, program: 2, runs: 10))
    #expect(tracker.runs == 90)
    #expect(swapped.nanosecondsPerRun == 10)
    let newMap = tracker.record(sample(3, map: 2, drop: 7, program: 2, runs: 17))
    #expect(newMap.totals[.drop].packets == 97)
    #expect(tracker.runs == 97)
  }

  /// A batch program's run decides many packets: the cost per packet is
  /// the run time over the packets counted, not over the runs.
  @Test func costPerPacketDividesByPacketsNotRuns() {
    var tracker = CounterTracker()
    _ = tracker.record(sample(0, drop: 0, runs: 0))
    // 64 runs of 10 ns deciding 256 packets.
    let batch = tracker.record(sample(1, drop: 256, runs: 64))
    #expect(batch.nanosecondsPerRun == 10)
    #expect(batch.nanosecondsPerPacket == 640.0 / 256)
    // Runs without a counted packet (statistics on, counters not yet
    // moved) give no cost per packet; no runs, neither.
    let uncounted = tracker.record(sample(2, drop: 256, runs: 70))
    #expect(uncounted.nanosecondsPerRun == 10)
    #expect(uncounted.nanosecondsPerPacket == nil)
    let idle = tracker.record(sample(3, drop: 256, runs: 70))
    #expect(idle.nanosecondsPerRun == nil)
    #expect(idle.nanosecondsPerPacket == nil)
  }

  @Test func perCPUCopiesAreSummedWordByWord() {
    let copies: [[UInt8]] = [
      [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
      [2, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0],
    ]
    #expect(KernelMap.sum(copies) == [3, 0x300])
  }

  @Test func actionsEncodeAsDesignShape() throws {
    var counts = ActionCounts()
    counts[.tx] = ActionCount(packets: 3, bytes: 180)
    let data = try JSONEncoder().encode(counts)
    let decoded = try JSONDecoder().decode(ActionCounts.self, from: data)
    #expect(decoded == counts)
    let text = String(decoding: data, as: UTF8.self)
    for action in XDPAction.allCases { #expect(text.contains("\"\(action.name)\"")) }
  }
}
