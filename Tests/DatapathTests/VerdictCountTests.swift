import BPF
import Engine
import Rewriter
import Testing

/// The runner counts each run's verdicts per action as it reads them back
/// (``LiveFrameRunner/lastCount(_:)``, ``LiveFrameRunner/lastBytes(_:)``),
/// which the datapath's worker counts and groups a batch by: over a full
/// RX batch of 64 frames that mixes every verdict, in both forms, every
/// frame is counted once, the last one included, and a run's counts are
/// its own.
struct VerdictCountTests {
  /// Frame `slot`'s first byte, which ``LiveFrameRunnerTests/program``
  /// returns: every verdict and a value above 4 in turn, and TX only for
  /// the last frame of the batch.
  static func returned(_ slot: Int) -> UInt8 {
    slot == LiveFrameRunner.maximumBatch - 1 ? 3 : [0, 1, 2, 4, 9][slot % 5]
  }

  /// What frame `slot`'s verdict is.
  static func action(_ slot: Int) -> XDPAction {
    XDPAction(returnValue: UInt64(returned(slot)))
  }

  /// Frame `slot`'s length: each different, so bytes tell frames apart.
  static func length(_ slot: Int) -> UInt32 { UInt32(40 + slot) }

  @Test(arguments: [BatchBound.endPointer, .count, .immediate])
  func aFullBatchOfEveryVerdictCountsEachFrameOnce(bound: BatchBound) throws {
    let machine = try Machine()
    let perPacket = try machine.prepare(LiveFrameRunnerTests.program)
    let batch = try machine.prepare(
      try BatchTrampoline(strategy: .reserve, bound: bound, batchSize: 64).rewrite(
        LiveFrameRunnerTests.program
      ).program, form: .batch)
    let runner = try LiveFrameRunner(machine: machine)
    let size = LiveFrameRunner.maximumBatch
    let region = try machine.addressSpace.map(length: 4096 * size, name: "umem")
    var frames: [LiveFrameRunner.Frame] = []
    for slot in 0..<size {
      let start = region.start + UInt32(slot * 4096)
      var bytes = [UInt8](repeating: 0x5a, count: Int(Self.length(slot)))
      bytes[0] = Self.returned(slot)
      machine.addressSpace.write(bytes, at: UInt64(start + 256))
      frames.append(
        .init(
          hardStart: start, data: start + 256, length: Self.length(slot),
          hardEnd: start + 4096 - 320))
    }
    for form in Form.allCases {
      for count in [size, 5] {
        frames.prefix(count).withUnsafeBufferPointer { buffer in
          if form == .batch {
            runner.run(batch, frames: buffer, form: .batch, padded: bound == .immediate ? 64 : nil)
          } else {
            runner.run(perPacket, frames: buffer, form: .perPacket)
          }
        }
        #expect(runner.lastError == nil)
        #expect(runner.verdicts.map(\.action) == (0..<count).map(Self.action), "\(form) \(count)")
        for action in XDPAction.allCases {
          let slots = (0..<count).filter { Self.action($0) == action }
          #expect(runner.lastCount(action) == slots.count, "\(form) \(count) \(action.name)")
          #expect(
            runner.lastBytes(action) == slots.reduce(0) { $0 + UInt64(Self.length($1)) },
            "\(form) \(count) \(action.name)")
        }
        // The last frame of the full batch is the only TX one.
        #expect(runner.lastCount(.tx) == (count == size ? 1 : 0), "\(form) \(count)")
        #expect(
          (0..<5).map { runner.lastCount(XDPAction(rawValue: $0)!) }.reduce(0, +) == count)
      }
    }
  }
}
