import BPF
import Engine
import Rewriter
import Testing

/// The engine's in-place runner (what the datapath runs over its UMEM)
/// against the copying ``PacketRunner``: same verdicts and bytes, per
/// packet and in the batch form, on frames it never copies.
struct LiveFrameRunnerTests {
  /// Returns the frame's first byte as the verdict (ABORTED above 4),
  /// PASS for an empty frame, after overwriting byte 1 with 0xee.
  static let program = Program(
    name: "first_byte", sectionName: "xdp",
    instructions: [
      .load(.word, .r2, from: .r1, offset: 0),
      .load(.word, .r3, from: .r1, offset: 4),
      .move(.r4, .r2),
      .add(.r4, immediate: 2),
      .jump(.jgt, .r4, .r3, offset: 3),
      .store(.byte, immediate: 0xee, to: .r2, offset: 1),
      .load(.byte, .r0, from: .r2, offset: 0),
      .exit,
      .move(.r0, immediate: 2),
      .exit,
    ])

  static let packets: [[UInt8]] = [[1, 0, 0], [3, 0], [9, 9, 9, 9], [2, 5], [0, 1, 2]]

  @Test(arguments: [BatchBound.endPointer, .count, .immediate])
  func verdictsMatchThePacketRunner(bound: BatchBound) throws {
    let reference = try Machine()
    let offline = try PacketRunner(
      machine: reference, program: try reference.prepare(Self.program), mode: .perPacket
    ).run(Self.packets)

    let machine = try Machine()
    let perPacket = try machine.prepare(Self.program)
    let batch = try machine.prepare(
      try BatchTrampoline(strategy: .reserve, bound: bound, batchSize: 64).rewrite(Self.program)
        .program)
    let runner = try LiveFrameRunner(machine: machine, ingressInterface: 7, receiveQueue: 0)
    let region = try machine.addressSpace.map(length: 4096 * Self.packets.count, name: "umem")
    var frames: [LiveFrameRunner.Frame] = []
    func load() {
      frames = []
      for (index, packet) in Self.packets.enumerated() {
        let start = region.start + UInt32(index * 4096)
        machine.addressSpace.write(packet, at: UInt64(start + 256))
        frames.append(
          .init(
            hardStart: start, data: start + 256, length: UInt32(packet.count),
            hardEnd: start + 4096 - 320))
      }
    }
    for mode in [RunMode.perPacket, .batch(size: 64)] {
      load()
      frames.withUnsafeBufferPointer { buffer in
        if case .batch = mode {
          runner.run(batch, frames: buffer, mode: mode, padded: bound == .immediate ? 64 : nil)
        } else {
          runner.run(perPacket, frames: buffer, mode: mode)
        }
      }
      #expect(runner.lastError == nil)
      #expect(runner.verdicts.map(\.action) == offline.outcomes.map(\.action), "\(mode)")
      for (verdict, outcome) in zip(runner.verdicts, offline.outcomes) {
        // In place: the program's write is in the frame itself.
        #expect(
          machine.addressSpace.read(UInt64(verdict.data), count: Int(verdict.length))
            == outcome.output)
      }
    }
  }

  @Test func aFixedSpaceRefusesToMove() throws {
    let machine = try Machine()
    #expect(throws: AddressSpaceError.self) {
      try machine.addressSpace.map(length: 1 << 20, name: "more than the room there")
    }
  }
}
