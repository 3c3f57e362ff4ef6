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
    jitNanosecondsPerPacket: ["a.o:a": 14, "b.o:b": 5, "c.o:c": 3])
  let batching = [
    BatchingFigure(
      program: "a.o:a", call: "direct", perPacketNanoseconds: 10, batchNanoseconds: 8,
      speedup: 0),
    BatchingFigure(
      program: "a.o:a", call: "retpoline", perPacketNanoseconds: 30, batchNanoseconds: 20,
      speedup: 0),
    BatchingFigure(
      program: "a.o:a", call: "indirect", perPacketNanoseconds: 1, batchNanoseconds: 1,
      speedup: 0),
  ]

  @Test func ratiosComeFromTheTables() throws {
    let goals = GoalFigures(engines: engines, batching: batching)
    // b's net figure is 0 and c has none: no ratio rather than infinity.
    #expect(goals.jitOverKernelNet == ["a.o:a": 1.4])
    #expect(goals.batchSpeedupDirect == ["a.o:a": 1.25])
    #expect(goals.batchSpeedupRetpoline == ["a.o:a": 1.5])
    let checked = try #require(goals.checkedOverUnchecked)
    #expect(abs(checked - 1.5) < 1e-9)
  }

  @Test func keysAreTheDocumentedOnes() throws {
    let data = try JSONCoding.encoder().encode(GoalFigures(engines: engines, batching: batching))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(
      Set(object.keys) == [
        "jit_over_kernel_net", "batch_speedup_direct", "batch_speedup_retpoline",
        "checked_over_unchecked",
      ])
  }
}
