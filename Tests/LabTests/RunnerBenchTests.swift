import BPF
import Engine
import Lab
import Testing

/// The bench's runner table (issue 22): the live runner over frames in
/// place, per packet and in batch form, in runs of 1, 2 and 64 frames.
@Suite struct RunnerBenchTests {
  /// DROP for every frame.
  static let drop = Program(
    name: "drop", sectionName: "xdp", instructions: [.move(.r0, immediate: 1), .exit])

  /// Every row ran the frames it says, in runs of its size; a program
  /// that faults stops the bench with the runner's error instead of
  /// timing aborted frames.
  @Test func everyRowRunsItsFrames() throws {
    let rows = try RunnerBench.run(
      Self.drop, maps: [], frames: [[UInt8](repeating: 0, count: 60)], perRound: 640, rounds: 2)
    #expect(rows.map(\.form) == [.perPacket, .perPacket, .perPacket, .batch, .batch, .batch])
    #expect(rows.map(\.framesPerRun) == [1, 2, 64, 1, 2, 64])
    // Three rounds (the warm-up and two timed) of 640 frames each.
    #expect(rows.map(\.framesRun) == Array(repeating: 1_920, count: 6))
    #expect(rows.allSatisfy { $0.nanosecondsPerFrame > 0 && $0.nanosecondsPerFrame.isFinite })

    let faulting = Program(
      name: "faults", sectionName: "xdp",
      instructions: [
        // Two frames past its own, in pages the runner keeps closed.
        .load(.word, .r2, from: .r1, offset: 0),
        .load(.doubleWord, .r0, from: .r2, offset: 8192),
        .exit,
      ])
    #expect(throws: RunnerBenchError.self) {
      _ = try RunnerBench.run(
        faulting, maps: [], frames: [[UInt8](repeating: 0, count: 60)], perRound: 64, rounds: 1)
    }
  }
}
