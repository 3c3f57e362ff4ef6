import BPF
import Engine
import Foundation
import Frames
import Testing

@testable import Lab

/// Issue 22: a program with a tail call has no batch form, so `bench`
/// gives it the machine-code driver loop's per-packet rows (the figure
/// its `jit_over_kernel_net` divides), no batch figure and no speedup,
/// and says why: the rewriter's refusal.
@Suite struct TailCallBatchingTests {
  static let jumps = MapDefinition(
    name: "jumps", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 4)

  /// `tail_call(ctx, jumps, 1); return XDP_PASS` (slot 1 is empty: the
  /// call falls through, as with the sample's empty table in the kernel).
  static let program = Program(
    name: "dispatch", sectionName: "xdp",
    instructions: Instruction.loadImmediate64(.r2, 0, kind: .mapByIndex) + [
      .move(.r3, immediate: 1), .call(helper: HelperFunction.tailCall.rawValue),
      .move(.r0, immediate: 2), .exit,
    ])

  @Test func tailCallsGetPerPacketRowsAndTheRefusal() throws {
    var generator = FrameGenerator(seed: 22)
    let rows = try BatchingBench.run(
      Self.program, maps: [Self.jumps], frames: generator.frames(8), repeats: 20, rounds: 1)
    #expect(rows.map(\.call) == CallStyle.allCases)
    for row in rows {
      #expect(row.perPacketNanoseconds > 0 && row.perPacketNanoseconds.isFinite, "\(row.call)")
      #expect(row.batchNanoseconds == nil && row.speedup == nil, "\(row.call)")
      let empty = try #require(row.emptyNanoseconds, "\(row.call)")
      #expect(empty > 0 && empty.isFinite, "\(row.call)")
      let refusal = try #require(row.batchRefusal)
      #expect(refusal.contains("calls bpf_tail_call, which never returns to the batch loop"))
    }
  }

  @Test func goalsTakeTheDriverLoopsFigureAndNoSpeedup() throws {
    let figure = BatchingFigure(
      program: "t.o:t", call: CallStyle.direct.rawValue, perPacketNanoseconds: 6,
      batchNanoseconds: nil, speedup: nil, batchRefusal: "instruction 3 calls bpf_tail_call")
    let engines = EngineComparison(
      interpreterNanosecondsPerInstruction: 2, jitNanosecondsPerInstruction: 0.1,
      jitCheckedNanosecondsPerInstruction: 0.15, kernelNanosecondsPerPacket: ["t.o:t": 30],
      kernelNetNanosecondsPerPacket: ["t.o:t": 4], testRunLoopNanoseconds: 26,
      jitNanosecondsPerPacket: ["t.o:t": 6], jitEmptyNanosecondsPerPacket: ["t.o:t": 2],
      jitNetRounds: ["t.o:t": RoundSpread([3.5, 4, 4.5])!])
    let goals = GoalFigures(engines: engines, batching: [figure])
    #expect(goals.jitOverKernelNet == ["t.o:t": 1])
    #expect(goals.jitGrossOverKernelNet == ["t.o:t": 1.5])
    #expect(goals.batchSpeedupDirect.isEmpty)
    let data = try JSONCoding.encoder().encode(figure)
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["batch_refused"] as? String == "instruction 3 calls bpf_tail_call")
    #expect(object["batch_ns"] is NSNull && object["speedup"] is NSNull)
  }
}
