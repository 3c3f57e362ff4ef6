import BPF
import Deployment
import Engine
import Foundation
import TestSupport
import Testing

@testable import Lab

/// Issue 22: the kernel's net figure is the median of per-round
/// differences between the program and the empty program test-run back to
/// back, not the difference of two figures kept apart, which can pair a
/// fast CPU period with a slow one.
struct KernelNetRoundsTests {
  /// An engines table before any sample's figures are taken.
  static let noSamples = EngineComparison(
    interpreterNanosecondsPerInstruction: 2, jitNanosecondsPerInstruction: 0.1,
    jitCheckedNanosecondsPerInstruction: 0.15, kernelNanosecondsPerPacket: [:],
    kernelNetNanosecondsPerPacket: [:], testRunLoopNanoseconds: nil, jitNanosecondsPerPacket: [:])

  /// Rounds 2 and 4 ran at the slow speed throughout (both programs
  /// 1.4x); in round 5 the empty program alone caught a fast moment. The
  /// old formula, the program's fastest figure less the empty program's
  /// (40 - 33), gives 7 ns; the rounds' median gives the 4 ns the program
  /// costs at the fast speed.
  @Test func theNetIsTheMedianOfTheRoundsDifferences() throws {
    let program = [40.0, 56, 41, 57.5, 45]
    let empty = [36.0, 50.4, 37, 53.5, 33]
    let figure = try #require(KernelNetFigure(program: program, empty: empty))
    #expect(program.min()! - empty.min()! == 7)
    #expect(abs(figure.net.median - 4) < 1e-9)
    #expect(abs(figure.net.lowQuartile - 4) < 1e-9)
    #expect(abs(figure.net.highQuartile - 5.6) < 1e-9)
    #expect(figure.net.rounds == 5)
    #expect(figure.gross.median == 45 && figure.empty.median == 37)
  }

  /// A program that costs less than the noise between two test runs has
  /// a net near 0 on either side; it is reported as measured.
  @Test func netsMayBeZeroOrBelow() throws {
    let spread = try #require(RoundSpread([0.3, -0.2, 0.1]))
    #expect(spread.median == 0.1 && abs(spread.lowQuartile + 0.05) < 1e-12)
    #expect(RoundSpread([]) == nil)
    #expect(RoundSpread([1, .nan]) == nil)
    #expect(RoundSpread([1, 2], minus: [1]) == nil)
    #expect(KernelNetFigure(program: [], empty: []) == nil)
  }

  /// A sample row takes the medians of its rounds, and `--json` carries
  /// the rounds under `kernel_rounds` with their quartiles.
  @Test func aRowCarriesItsRounds() throws {
    var row = SampleFigures(object: "a.o", program: "a")
    row.takeKernel(try #require(KernelNetFigure(program: [40, 41, 60], empty: [36, 36.5, 54])))
    #expect(row.kernelNanosecondsPerPacket == 41)
    #expect(row.kernelNetNanosecondsPerPacket == 4.5)
    let object = try #require(
      try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(row)) as? [String: Any])
    let rounds = try #require(object["kernel_rounds"] as? [String: Any])
    let net = try #require(rounds["net"] as? [String: Any])
    #expect(net["median"] as? Double == 4.5)
    #expect(net["high_quartile"] as? Double == 5.25)
    #expect((rounds["empty"] as? [String: Any])?["rounds"] as? Int == 3)
    #expect(rounds["duration_test_runs_counted"] as? Int == 0)
    #expect(object["kernel_net_ns_per_packet"] as? Double == 4.5)
  }

  /// The settings `--json` states: the same `repeat` and frames for both
  /// programs, no live frames.
  @Test func theTestRunSettingsAreStated() throws {
    let bench = KernelBench(repetitions: 2_000, netRounds: 3)
    #expect(
      bench.testRunSettings
        == KernelTestRunSettings(repeat: 2_000, framesPerRound: 5, tries: 2, rounds: 3))
    let object = try #require(
      try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(bench.testRunSettings))
        as? [String: Any])
    #expect(Set(object.keys) == ["repeat", "frames_per_round", "tries", "rounds", "live_frames"])
    #expect(object["live_frames"] as? Bool == false)
  }

  /// The JIT's figures timed in the same rounds as the kernel's (net,
  /// gross and empty) are the ones the engines table and the goal take,
  /// over the batching table's.
  @Test func theJITsNetComesFromTheKernelsRounds() throws {
    let figure = try #require(
      KernelNetFigure(
        program: [40, 41, 60], empty: [36, 36.5, 54], jitProgram: [9, 9.5, 13],
        jitEmpty: [2.5, 2.5, 3.5]))
    #expect(figure.jitNet?.median == 7)
    #expect(
      KernelNetFigure(program: [40], empty: [36], jitProgram: [9, 9], jitEmpty: [2, 2]) == nil)
    var row = SampleFigures(object: "a.o", program: "a")
    row.takeKernel(figure)
    var comparison = Self.noSamples
    let direct = BatchingFigure(
      program: "a.o:a", call: "direct", perPacketNanoseconds: 9, batchNanoseconds: nil,
      speedup: nil, emptyNanoseconds: 2.5, netRounds: RoundSpread([6.5, 8, 9]))
    comparison.take(samples: [row], batching: [direct])
    #expect(comparison.jitNetNanosecondsPerPacket == ["a.o:a": 7])
    // Gross and empty from the same rounds (medians 9.5 and 2.5), not the
    // batching table's 9 over the mix.
    #expect(comparison.jitNanosecondsPerPacket == ["a.o:a": 9.5])
    #expect(comparison.jitEmptyNanosecondsPerPacket == ["a.o:a": 2.5])
    #expect(comparison.kernelNetNanosecondsPerPacket == ["a.o:a": 4.5])
    let goals = GoalFigures(engines: comparison, batching: [direct])
    #expect(goals.jitOverKernelNet["a.o:a"].map { abs($0 - 7 / 4.5) < 1e-12 } == true)
    // Without the kernel's rounds, the batching table's.
    comparison.take(samples: [SampleFigures(object: "a.o", program: "a")], batching: [direct])
    #expect(comparison.jitNetNanosecondsPerPacket == ["a.o:a": 8])
    #expect(comparison.jitNanosecondsPerPacket == ["a.o:a": 9])
  }

  /// The JIT is timed as the kernel's test run times a program: each frame
  /// of the round on its own, one record called `repetitions` times in a
  /// row (the kernel runs its program `repeat` times on one `xdp_buff`, so
  /// the program's branches see one frame). A run's records are one
  /// address repeated; and xdp1, which counts each packet under its IP
  /// protocol in `rxcnt`, shows each frame given ran `repetitions` times
  /// a try: the UDP frame (given twice) 600 under 17, the IPv6 TCP frame
  /// 300 under 6, nothing else (the empty program counts nothing).
  @Test func theJITRunsEachFrameRepeatedAsTheKernelsTestRunDoes() throws {
    let source = ProgramSource(
      objectPath: PackageLayout.sample("xdp1"), programName: "xdp_prog1")
    let pair = try JITPair(source: source, repetitions: 300)
    let mix = TrafficMix.classifier(variants: 1).frames
    let (udp, tcp) = (mix[0].bytes, mix[3].bytes)
    #expect(udp[23] == 17 && tcp[20] == 6)
    let calls = pair.calls(of: tcp)
    #expect(calls.count == 300 && Set(calls).count == 1)
    let timed = try #require(try pair.time([udp, udp, tcp], round: 0, tries: 1))
    #expect(timed.count == 2 && timed.allSatisfy { $0 > 0 }, "\(timed)")
    let map = try #require(pair.machine.maps.first { $0.definition.name == "rxcnt" })
    func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
      bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
    /// Calls counted under `key`, summed over the CPUs' values.
    func counted(_ key: [UInt8]) -> UInt64 {
      let values = map.perProcessorValues(key: key) ?? []
      return values.reduce(0) { $0 + littleEndian($1.prefix(8)) }
    }
    let byProtocol = [UInt64: UInt64](
      uniqueKeysWithValues: map.keys.map { (littleEndian($0.prefix(4)), counted($0)) })
    #expect(byProtocol[17] == 600)
    #expect(byProtocol[6] == 300)
    #expect(byProtocol.values.reduce(0, +) == 900, "\(byProtocol.filter { $0.value != 0 })")
  }
  /// A JIT run that stops with an error ends the round without a figure,
  /// and the error reaches `netFigure`, which keeps it under
  /// `jit_refusal` (a `try?` once left `jit_net` null with no reason).
  @Test func aJITRunThatStopsEndsTheRoundAndSaysWhy() throws {
    struct Stopped: Error {}
    var tries = 0
    #expect(throws: Stopped.self) {
      _ = try PairRound.averages([[1], [2]], round: 0, tries: 2) {
        (_, frame) throws(Stopped) -> Double in
        tries += 1
        if frame == [2] { throw Stopped() }
        return 1
      }
    }
    // The first frame's four tries (two per form), then the second's first.
    #expect(tries == 5)
    var figure = try #require(KernelNetFigure(program: [40, 41], empty: [36, 36.5]))
    figure.jitRefusal = "a run of the engine's JIT stopped: budget"
    var row = SampleFigures(object: "a.o", program: "a")
    row.takeKernel(figure)
    let object = try #require(
      try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(row)) as? [String: Any])
    let rounds = try #require(object["kernel_rounds"] as? [String: Any])
    #expect(rounds["jit_refusal"] as? String == "a run of the engine's JIT stopped: budget")
    #expect(rounds["jit_net"] == nil || rounds["jit_net"] is NSNull)
  }
}
