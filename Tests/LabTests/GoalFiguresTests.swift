import BPF
import Foundation
import Testing

@testable import Lab

/// Issue 22: `bench --json`'s `"goals"` divides the engines and batching
/// tables into the ratios, under the documented keys.
struct GoalFiguresTests {
  let engines = EngineComparison(
    interpreterNanosecondsPerInstruction: 2, jitNanosecondsPerInstruction: 0.1,
    jitCheckedNanosecondsPerInstruction: 0.15,
    kernelNanosecondsPerPacket: ["a.o:a": 30, "b.o:b": 20],
    kernelNetNanosecondsPerPacket: ["a.o:a": 10, "b.o:b": 0], testRunLoopNanoseconds: 20,
    jitNanosecondsPerPacket: ["a.o:a": 14, "b.o:b": 5, "c.o:c": 3],
    jitCheckedOverUncheckedRounds: RoundRatios([1.08, 1.12, 1.5]),
    jitEmptyNanosecondsPerPacket: ["a.o:a": 2, "b.o:b": 2],
    jitNetRounds: ["a.o:a": RoundSpread([11, 12, 13.5])!, "b.o:b": RoundSpread([3])!])
  let batching = [
    BatchingFigure(
      program: "a.o:a", call: "direct", perPacketNanoseconds: 10, batchNanoseconds: 8,
      speedup: 1.1),
    BatchingFigure(
      program: "a.o:a", call: "retpoline", perPacketNanoseconds: 30, batchNanoseconds: 20,
      speedup: 1.4),
    BatchingFigure(
      program: "a.o:a", call: "indirect", perPacketNanoseconds: 1, batchNanoseconds: 1,
      speedup: 1),
    BatchingFigure(
      program: "t.o:t", call: "direct", perPacketNanoseconds: 4, batchNanoseconds: nil,
      speedup: nil),
  ]

  @Test func ratiosComeFromTheTables() throws {
    let goals = GoalFigures(engines: engines, batching: batching)
    // Net over net: the median of the JIT's per-round nets (12) over the
    // kernel's net, not the gross 14 / 10; b's kernel net
    // figure is 0 and c has none: no ratio rather than infinity.
    #expect(goals.jitOverKernelNet == ["a.o:a": 1.2])
    #expect(goals.jitGrossOverKernelNet == ["a.o:a": 1.4])
    // The speedups and the checked cost are the medians of the rounds'
    // ratios, not the quotients of the fastest figures (1.25, 1.5, 1.5),
    // which may come from rounds at different CPU speeds; no batch form,
    // no speedup.
    #expect(goals.batchSpeedupDirect == ["a.o:a": 1.1])
    #expect(goals.batchSpeedupRetpoline == ["a.o:a": 1.4])
    #expect(goals.checkedOverUnchecked == 1.12)
  }

  @Test func noRoundsNoCheckedRatio() {
    var engines = engines
    engines.jitCheckedOverUncheckedRounds = nil
    #expect(GoalFigures(engines: engines, batching: batching).checkedOverUnchecked == nil)
  }

  @Test func keysAreTheDocumentedOnes() throws {
    let data = try JSONCoding.encoder().encode(GoalFigures(engines: engines, batching: batching))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(
      Set(object.keys) == [
        "jit_over_kernel_net", "jit_gross_over_kernel_net", "batch_speedup_direct",
        "batch_speedup_retpoline", "checked_over_unchecked", "kernel_net_below_resolution",
        "jit_over_kernel_code",
      ])
  }

  /// `jit_over_kernel_code`: the JIT's net over the net of the kernel's
  /// own code timed in the same rounds, only where that was measured and
  /// resolved: b's net straddles 0, c's median (0.02) is within its
  /// rounds' interquartile range (0.04): no ratio;
  /// `jit_over_kernel_net` stays the test run's.
  @Test func theJITOverTheKernelsCodeUsesTheCopysNet() throws {
    var engines = engines
    engines.kernelCodeNetRounds = [
      "a.o:a": RoundSpread([7, 8, 9])!, "b.o:b": RoundSpread([-0.1, 0.01, 0.2])!,
      "c.o:c": RoundSpread([0.01, 0.02, 0.09])!,
    ]
    engines.jitNetRounds["c.o:c"] = RoundSpread([0.1])!
    let goals = GoalFigures(engines: engines, batching: batching)
    #expect(goals.jitOverKernelCode == ["a.o:a": 1.5])
    #expect(goals.jitOverKernelNet == ["a.o:a": 1.2])
  }

  /// The engines table carries the JIT's empty-program figure and the net
  /// one under their own keys, and takes the empty figure from the direct
  /// row of the batching table, as the gross one.
  @Test func theEmptyProgramsFigureComesFromTheDirectRow() throws {
    let rows = [
      BatchingFigure(
        program: "a.o:a", call: "direct", perPacketNanoseconds: 14, batchNanoseconds: nil,
        speedup: nil, emptyNanoseconds: 2.5, netRounds: RoundSpread([11.4, 11, 11.2])),
      BatchingFigure(
        program: "a.o:a", call: "retpoline", perPacketNanoseconds: 30, batchNanoseconds: nil,
        speedup: nil, emptyNanoseconds: 20),
    ]
    var comparison = engines
    comparison.jitNanosecondsPerPacket = [:]
    comparison.jitEmptyNanosecondsPerPacket = [:]
    comparison.jitNetRounds = [:]
    comparison.take(samples: [SampleFigures(object: "a.o", program: "a")], batching: rows)
    #expect(comparison.jitNanosecondsPerPacket == ["a.o:a": 14])
    #expect(comparison.jitEmptyNanosecondsPerPacket == ["a.o:a": 2.5])
    // The net is the median of the rounds' nets (11.2), not the fastest
    // per-packet round less the fastest empty round (14 - 2.5 = 11.5),
    // which may come from rounds at different CPU speeds.
    #expect(comparison.jitNetNanosecondsPerPacket == ["a.o:a": 11.2])
    #expect(comparison.jitNetRounds["a.o:a"]?.rounds == 3)
    let data = try JSONCoding.encoder().encode(comparison)
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["jit_empty_ns_per_packet"] as? [String: Double] == ["a.o:a": 2.5])
    #expect(object["jit_net_ns_per_packet"] as? [String: Double] == ["a.o:a": 11.2])
    let netRounds = try #require(object["jit_net_rounds"] as? [String: [String: Any]])
    #expect(netRounds["a.o:a"]?["median"] as? Double == 11.2)
    #expect(netRounds["a.o:a"]?["low_quartile"] as? Double == 11.1)
    #expect(object["jit_ns_per_packet"] as? [String: Double] == ["a.o:a": 14])
    let row = try #require(
      try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(rows[0]))
        as? [String: Any])
    #expect(row["empty_ns"] as? Double == 2.5)
    #expect((row["net_rounds"] as? [String: Any])?["rounds"] as? Int == 3)
  }
}
