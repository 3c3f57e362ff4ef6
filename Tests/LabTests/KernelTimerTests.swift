import BPF
import Foundation
import Testing

@testable import Lab

/// Issue 22 (branch `kstats`): the kernel's net figure states the clock it
/// was timed by and that clock's step; a net of a few steps of the clock
/// is its rounding, not the program, and no goal ratio is read off it.
struct KernelTimerTests {
  static let statistics = KernelTimer(name: .runTimeStatistics, resolutionNanoseconds: 1 / 20_000)

  /// The same rounds, 2 ns net: under `duration` (1 ns steps) that is
  /// two steps and the ratio is left out and the program listed; under
  /// the statistics' 1/20,000 ns steps it is measured and divides.
  @Test func aNetUnderAFewStepsOfItsClockIsFlaggedNotDivided() throws {
    func goals(_ timer: KernelTimer) throws -> GoalFigures {
      var row = SampleFigures(object: "t.o", program: "t")
      row.takeKernel(
        try #require(KernelNetFigure(program: [5, 5, 6], empty: [3, 3, 4], timer: timer)))
      var comparison = KernelNetRoundsTests.noSamples
      let direct = BatchingFigure(
        program: "t.o:t", call: "direct", perPacketNanoseconds: 9, batchNanoseconds: nil,
        speedup: nil, emptyNanoseconds: 6, netRounds: RoundSpread([3, 3, 3]))
      comparison.take(samples: [row], batching: [direct])
      return GoalFigures(engines: comparison, batching: [direct])
    }
    let duration = try goals(.testRunDuration)
    #expect(duration.kernelNetBelowResolution == ["t.o:t"])
    #expect(duration.jitOverKernelNet["t.o:t"] == nil)
    #expect(duration.jitGrossOverKernelNet["t.o:t"] == nil)
    let stats = try goals(Self.statistics)
    #expect(stats.kernelNetBelowResolution.isEmpty)
    #expect(stats.jitOverKernelNet["t.o:t"] == 1.5)
    let object = try #require(
      try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(duration))
        as? [String: Any])
    #expect(object["kernel_net_below_resolution"] as? [String] == ["t.o:t"])
  }

  /// A row carries its clock, and the same rounds timed by the kernel's
  /// run statistics beside it with theirs; its figures, and so the
  /// goal's, are the `duration` ones.
  @Test func aRowStatesItsClocks() throws {
    let figure = try #require(
      KernelNetFigure(
        program: [40, 41, 42], empty: [37, 38, 38], statisticsProgram: [12.25, 12.5, 12.75],
        statisticsEmpty: [10, 10.25, 10.5], statisticsTimer: Self.statistics))
    var row = SampleFigures(object: "a.o", program: "a")
    row.takeKernel(figure)
    #expect(row.kernelNanosecondsPerPacket == 41)
    #expect(row.kernelNetNanosecondsPerPacket == 3)
    #expect(figure.runTimeStatistics?.net.median == 2.25)
    let object = try #require(
      try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(row)) as? [String: Any])
    let rounds = try #require(object["kernel_rounds"] as? [String: Any])
    let timer = try #require(rounds["timer"] as? [String: Any])
    #expect(timer["name"] as? String == "test_run_duration")
    #expect(timer["resolution_ns"] as? Double == 1)
    let statistics = try #require(rounds["run_time_statistics"] as? [String: Any])
    let statisticsTimer = try #require(statistics["timer"] as? [String: Any])
    #expect(statisticsTimer["name"] as? String == "bpf_stats_run_time")
    #expect(statisticsTimer["resolution_ns"] as? Double == 1.0 / 20_000)
    #expect((statistics["gross"] as? [String: Any])?["median"] as? Double == 12.5)
    // Counts that differ are no figure.
    #expect(
      KernelNetFigure(
        program: [1, 2], empty: [1, 1], statisticsProgram: [3], statisticsEmpty: [2])
        == nil)
  }

  /// `engines.kernel_test_run` names the clocks of the samples' rounds,
  /// or the kernel's refusal of its statistics.
  @Test func theSettingsNameTheClocks() throws {
    var row = SampleFigures(object: "a.o", program: "a")
    row.takeKernel(
      try #require(
        KernelNetFigure(
          program: [5], empty: [3], statisticsProgram: [4], statisticsEmpty: [3],
          statisticsTimer: Self.statistics)))
    let bench = KernelBench(repetitions: 20_000, netRounds: 1)
    let settings = bench.testRunSettings(timedBy: [SampleFigures(object: "b.o", program: "b"), row])
    #expect(settings.timer == .testRunDuration)
    #expect(settings.runTimeStatistics == Self.statistics && settings.statisticsRefusal == nil)
    let object = try #require(
      try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(settings))
        as? [String: Any])
    #expect((object["timer"] as? [String: Any])?["name"] as? String == "test_run_duration")
    #expect(
      (object["run_time_statistics"] as? [String: Any])?["name"] as? String
        == "bpf_stats_run_time")
    var refused = try #require(KernelNetFigure(program: [5], empty: [3]))
    refused.statisticsRefusal = "enable BPF run-time statistics: Operation not permitted (errno 1)"
    row.takeKernel(refused)
    let without = bench.testRunSettings(timedBy: [row])
    #expect(
      without.runTimeStatistics == nil && without.statisticsRefusal == refused.statisticsRefusal)
  }
}
