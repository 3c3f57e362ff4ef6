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
      machine: reference, program: try reference.prepare(Self.program), form: .perPacket
    ).run(Self.packets)

    let machine = try Machine()
    let perPacket = try machine.prepare(Self.program)
    let batch = try machine.prepare(
      try BatchTrampoline(strategy: .reserve, bound: bound, batchSize: 64).rewrite(Self.program)
        .program, form: .batch)
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
    for form in Form.allCases {
      load()
      frames.withUnsafeBufferPointer { buffer in
        if form == .batch {
          runner.run(batch, frames: buffer, form: form, padded: bound == .immediate ? 64 : nil)
        } else {
          runner.run(perPacket, frames: buffer, form: form)
        }
      }
      #expect(runner.lastError == nil)
      #expect(runner.verdicts.map(\.action) == offline.outcomes.map(\.action), "\(form)")
      for (verdict, outcome) in zip(runner.verdicts, offline.outcomes) {
        // In place: the program's write is in the frame itself.
        #expect(
          machine.addressSpace.read(UInt64(verdict.data), count: Int(verdict.length))
            == outcome.output)
      }
    }
  }

  /// Moves the head 4 bytes out and the tail 2 bytes out, then redirects
  /// to ifindex 9: the helpers find each frame's bounds by its record.
  static let adjustingProgram = Program(
    name: "adjust_redirect", sectionName: "xdp",
    instructions: [
      .move(.r6, .r1),
      .move(.r2, immediate: -4),
      .call(helper: HelperFunction.xdpAdjustHead.rawValue),
      .move(.r1, .r6),
      .move(.r2, immediate: 2),
      .call(helper: HelperFunction.xdpAdjustTail.rawValue),
      .move(.r1, immediate: 9),
      .move(.r2, immediate: 0),
      .call(helper: HelperFunction.redirect.rawValue),
      .exit,
    ])

  /// The bounds the packet helpers use are the live frames' (set per slot
  /// on every run), in both forms: the same bytes, lengths and redirect
  /// targets as the copying runner, run after run.
  @Test func adjustedAndRedirectedFramesMatchThePacketRunner() throws {
    let packets = (0..<7).map { index in [UInt8](repeating: UInt8(index + 1), count: 40 + index) }
    let reference = try Machine()
    let offline = try PacketRunner(
      machine: reference, program: try reference.prepare(Self.adjustingProgram), form: .perPacket
    ).run(packets)
    #expect(offline.outcomes.allSatisfy { $0.action == .redirect })

    let machine = try Machine()
    let perPacket = try machine.prepare(Self.adjustingProgram)
    let batch = try machine.prepare(
      try BatchTrampoline(strategy: .reserve, bound: .endPointer, batchSize: 64).rewrite(
        Self.adjustingProgram
      ).program, form: .batch)
    let runner = try LiveFrameRunner(machine: machine)
    let region = try machine.addressSpace.map(length: 4096 * packets.count, name: "umem")
    for round in 0..<3 {
      for form in Form.allCases {
        // Each round uses the frames in another order, so a slot's bounds
        // are those of this run's frame, never a previous one's.
        var frames: [LiveFrameRunner.Frame] = []
        for (index, packet) in packets.enumerated() {
          let start = region.start + UInt32(((index + round) % packets.count) * 4096)
          machine.addressSpace.write(packet, at: UInt64(start + 256))
          frames.append(
            .init(
              hardStart: start, data: start + 256, length: UInt32(packet.count),
              hardEnd: start + 4096 - 320))
        }
        frames.withUnsafeBufferPointer { buffer in
          runner.run(form == .perPacket ? perPacket : batch, frames: buffer, form: form)
        }
        #expect(runner.lastError == nil)
        #expect(runner.verdicts.map(\.action) == offline.outcomes.map(\.action), "\(form)")
        #expect(runner.verdicts.map(\.redirect) == offline.outcomes.map(\.redirect), "\(form)")
        for (index, (verdict, outcome)) in zip(runner.verdicts, offline.outcomes).enumerated() {
          #expect(verdict.data == frames[index].data - 4)
          #expect(
            machine.addressSpace.read(UInt64(verdict.data), count: Int(verdict.length))
              == outcome.output, "\(form), packet \(index)")
        }
      }
    }
  }

  /// A helper handed an address that is not a live record's (here the
  /// stack) is refused as not an XDP context: the frame counts as ABORTED.
  @Test func aPacketHelperOutsideTheRecordsFaults() throws {
    let machine = try Machine()
    let program = try machine.prepare(
      instructions: [
        .move(.r1, .r10),
        .add(.r1, immediate: -32),
        .move(.r2, immediate: -4),
        .call(helper: HelperFunction.xdpAdjustHead.rawValue),
        .move(.r0, immediate: 2),
        .exit,
      ])
    let runner = try LiveFrameRunner(machine: machine)
    let region = try machine.addressSpace.map(length: 4096, name: "umem")
    let frames = [
      LiveFrameRunner.Frame(
        hardStart: region.start, data: region.start + 256, length: 60,
        hardEnd: region.start + 4096 - 320)
    ]
    frames.withUnsafeBufferPointer { runner.run(program, frames: $0, form: .perPacket) }
    #expect(runner.verdicts.map(\.action) == [.aborted])
    guard case .execution(packet: 0, .helperFault(_, _, let reason)) = runner.lastError else {
      Issue.record("expected a helper fault, got \(String(describing: runner.lastError))")
      return
    }
    #expect(reason.contains("not an XDP context"))
  }

  /// The UMEM is registered with the kernel at its host address: mapping
  /// more regions afterwards (maps, more queues) must never move it.
  @Test func theArenaNeverMoves() throws {
    let machine = try Machine()
    let umem = try machine.addressSpace.map(length: 1 << 16, name: "umem")
    let before = try #require(machine.addressSpace.pointer(UInt64(umem.start), count: 1 << 16))
    _ = try machine.addressSpace.map(length: 64 << 20, name: "a large map after the UMEM")
    let after = try #require(machine.addressSpace.pointer(UInt64(umem.start), count: 1 << 16))
    #expect(before == after)
  }
}
