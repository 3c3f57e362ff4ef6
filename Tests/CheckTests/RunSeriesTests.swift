import BPF
import Engine
import Foundation
import Frames
import Rewriter
import Testing

/// Issue 22: the live runner arms the machine once per RX batch
/// (``Machine/beginSeries(_:)``) and calls the program once per frame
/// with only R1, R2 and the run's status reset
/// (``Machine/runInSeries(_:_:r1:r2:)``). Over many frames in batches of
/// every size, the verdicts, redirect targets, instruction counts and map
/// contents are those of one ``Machine/run(_:r1:r2:)`` per frame, in both
/// forms; and a run that faults leaves the series usable.
@Suite(.enabled(if: !Samples.all.isEmpty, Samples.missingReason))
struct RunSeriesTests {
  /// Batch sizes cycled over the frames: one and two frames (what the
  /// datapath sees at low rates) up to a full batch.
  static let batchSizes = [1, 2, 3, 1, 7, 64, 2, 1, 33]

  /// What a machine did over `frames` through the live runner, batch by batch.
  struct Live {
    var verdicts: [LiveFrameRunner.Verdict] = []
    var frameCounts: [Int] = []
    var maps: MapContents
    var outputs: [[UInt8]] = []
  }

  static func live(
    _ program: Program, maps: [MapDefinition], frames packets: [[UInt8]], form: Form
  ) throws -> Live {
    let machine = try Machine(maps: maps)
    let prepared =
      form == .batch
      ? try machine.prepare(try BatchTrampoline().rewrite(program).program, form: .batch)
      : try machine.prepare(program)
    let runner = try LiveFrameRunner(machine: machine)
    let frameSize = 4096
    let region = try machine.addressSpace.map(
      length: frameSize * LiveFrameRunner.maximumBatch, name: "umem")
    var live = Live(maps: MapContents(machine))
    var next = 0
    var round = 0
    while next < packets.count {
      let size = min(batchSizes[round % batchSizes.count], packets.count - next)
      round += 1
      var frames: [LiveFrameRunner.Frame] = []
      for (slot, packet) in packets[next..<(next + size)].enumerated() {
        let start = region.start + UInt32(slot * frameSize)
        machine.addressSpace.write(packet, at: UInt64(start + 256))
        frames.append(
          .init(
            hardStart: start, data: start + 256, length: UInt32(packet.count),
            hardEnd: start + UInt32(frameSize) - 320))
      }
      frames.withUnsafeBufferPointer { runner.run(prepared, frames: $0, form: form) }
      #expect(runner.lastError == nil, "\(program.name) \(form)")
      live.frameCounts.append(runner.lastVerdicts.count)
      for verdict in runner.lastVerdicts {
        live.verdicts.append(verdict)
        live.outputs.append(
          machine.addressSpace.read(UInt64(verdict.data), count: Int(verdict.length)) ?? [])
      }
      next += size
    }
    live.maps = MapContents(machine)
    return live
  }

  @Test(arguments: ["xdp1.o": "xdp_prog1", "xdp_classify.o": "xdp_classify_prog"])
  func seriesRunsMatchOneRunPerFrame(file: String, name: String) throws {
    let object = try BPFObject(contentsOf: Samples.named(file).path)
    let program = try object.program(named: name)
    var generator = FrameGenerator(seed: 22)
    let packets = generator.frames(1_500)

    // The reference: Machine.run once per frame, the frames copied in.
    let machine = try Machine(maps: object.maps)
    let report = try PacketRunner(
      machine: machine, program: try machine.prepare(program), form: .perPacket
    ).run(packets)
    let reference = MapContents(machine)
    #expect(report.outcomes.count == packets.count)
    if name == "xdp_prog1" {
      // xdp1 counts into its map: equal maps mean equal work.
      #expect(reference.maps.values.contains { !$0.isEmpty }, "\(name) counted nothing")
    } else {
      // xdp_classify: these frames take ABORTED, PASS and REDIRECT.
      #expect(Set(report.outcomes.map(\.action)).isSuperset(of: [.aborted, .pass, .redirect]))
      #expect(report.outcomes.contains { $0.redirect != nil })
    }

    for form in Form.allCases {
      let live = try Self.live(program, maps: object.maps, frames: packets, form: form)
      // One verdict per frame of each run, as many runs as batches.
      var expectedCounts: [Int] = []
      var left = packets.count
      var round = 0
      while left > 0 {
        let size = min(Self.batchSizes[round % Self.batchSizes.count], left)
        expectedCounts.append(size)
        left -= size
        round += 1
      }
      #expect(live.frameCounts == expectedCounts, "\(name) \(form)")
      #expect(live.verdicts.map(\.action) == report.outcomes.map(\.action), "\(name) \(form)")
      #expect(live.verdicts.map(\.redirect) == report.outcomes.map(\.redirect), "\(name) \(form)")
      #expect(live.outputs == report.outcomes.map(\.output), "\(name) \(form)")
      #expect(live.maps == reference, "\(name) \(form)")
    }
  }

  /// Faults (ABORTED) on a frame whose first byte is 9, else returns the
  /// first byte: a store 64 KiB past the packet.
  static let faulting = Program(
    name: "faults_on_nine", sectionName: "xdp",
    instructions: [
      .load(.word, .r2, from: .r1, offset: 0),
      .load(.word, .r3, from: .r1, offset: 4),
      .move(.r4, .r2),
      .add(.r4, immediate: 1),
      .jump(.jgt, .r4, .r3, offset: 5),
      .load(.byte, .r0, from: .r2, offset: 0),
      .jump(.jne, .r0, immediate: 9, offset: 2),
      .add(.r2, immediate: 65536),
      .store(.byte, immediate: 1, to: .r2, offset: 0),
      .exit,
      .move(.r0, immediate: 2),
      .exit,
    ])

  /// A fault in the middle of a series: that frame is ABORTED with the
  /// fault's error, and the frames after it in the same run get their
  /// own verdicts and instruction counts (the status is reset per call).
  @Test func aFaultLeavesTheSeriesUsable() throws {
    let machine = try Machine()
    let prepared = try machine.prepare(Self.faulting)
    let runner = try LiveFrameRunner(machine: machine)
    let region = try machine.addressSpace.map(length: 4096 * 4, name: "umem")
    let packets: [[UInt8]] = [[1, 0], [9, 0], [3, 0], [4, 0]]
    var frames: [LiveFrameRunner.Frame] = []
    for (slot, packet) in packets.enumerated() {
      let start = region.start + UInt32(slot * 4096)
      machine.addressSpace.write(packet, at: UInt64(start + 256))
      frames.append(
        .init(
          hardStart: start, data: start + 256, length: UInt32(packet.count),
          hardEnd: start + 4096 - 320))
    }
    frames.withUnsafeBufferPointer { runner.run(prepared, frames: $0, form: .perPacket) }
    #expect(runner.lastVerdicts.map(\.action) == [.drop, .aborted, .tx, .redirect])
    guard case .execution(packet: 1, .memoryFault(_, _, _, write: true))? = runner.lastError
    else {
      Issue.record("expected frame 1's write fault, got \(String(describing: runner.lastError))")
      return
    }
    // The last frame's run: eight instructions, as one run alone counts.
    #expect(machine.lastInstructionCount == 8)
    let single = try Machine()
    _ = try PacketRunner(
      machine: single, program: try single.prepare(Self.faulting), form: .perPacket
    ).run([packets[3]])
    #expect(single.lastInstructionCount == machine.lastInstructionCount)
  }
}
