import BPF
import Engine
import Rewriter
import Testing

/// What a program that gets past the context check (here: one that
/// launders its context pointer through a map, which the verifier would
/// refuse as a scalar dereference) can do to the datapath's frames: it
/// writes its own record's fields, but the verdict's bounds come from the
/// runner's bookkeeping; it reaches its own frame per packet and its
/// batch's frames in batch form, and no other frame of the UMEM.
struct FrameContainmentTests {
  /// One map holding an 8-byte value: where the pointer is laundered.
  static let slot = MapDefinition(
    name: "slot", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)

  /// `r2 = the context pointer, laundered through map 0's value`, then `body`.
  static func laundering(_ body: [Instruction]) -> [Instruction] {
    [
      .move(.r6, .r1),
      .store(.word, immediate: 0, to: .r10, offset: -4),
    ] + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [
      .move(.r2, .r10), .add(.r2, immediate: -4),
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jne, .r0, immediate: 0, offset: 2),
      .move(.r0, immediate: 1), .exit,
      .store(.doubleWord, .r6, to: .r0, offset: 0),
      .load(.doubleWord, .r2, from: .r0, offset: 0),
    ] + body
  }

  /// Four frames in a UMEM-like region whose pages are closed to programs,
  /// as the datapath's; the runner lends each call its frames.
  struct Frames {
    let machine: Machine
    let runner: LiveFrameRunner
    let region: Region
    var frames: [LiveFrameRunner.Frame] = []

    init() throws {
      machine = try Machine(maps: [FrameContainmentTests.slot])
      runner = try LiveFrameRunner(machine: machine)
      runner.lendsFrames = true
      region = try machine.addressSpace.map(length: 4 * 4096, name: "umem")
      for index in 0..<4 {
        let start = region.start + UInt32(index * 4096)
        let bytes = [UInt8](repeating: UInt8(0x10 + index), count: 60)
        machine.addressSpace.hostMemory(at: start + 256).copyMemory(
          from: bytes, byteCount: bytes.count)
        frames.append(
          .init(hardStart: start, data: start + 256, length: 60, hardEnd: start + 4096 - 320))
      }
      machine.addressSpace.closePages(of: region)
    }

    /// Runs `program` over the first `count` frames.
    func run(_ program: PreparedProgram, form: Form, count: Int) {
      frames.prefix(count).withUnsafeBufferPointer {
        runner.run(program, frames: $0, form: form)
      }
    }

    /// The bytes of frame `index`, read as the datapath reads them.
    func bytes(_ index: Int) -> [UInt8] {
      let pointer = machine.addressSpace.hostMemory(at: frames[index].data)
      return [UInt8](UnsafeRawBufferPointer(start: pointer, count: 60))
    }
  }

  /// Writes data (+8), data_end (+4000) and data_meta through the
  /// laundered pointer and returns TX: the records are read-only to
  /// programs (the kernel's verifier refuses every write to `struct
  /// xdp_md`), so the first store faults, each frame is ABORTED, and its
  /// bounds are as the kernel delivered them.
  @Test func forgedBoundsDoNotReachTheVerdict() throws {
    let frames = try Frames()
    // The check does not follow a pointer through a map (the kernel turns
    // it into a number there): it takes the program.
    let program = try frames.machine.prepare(
      Program(
        name: "launder", sectionName: "xdp",
        instructions: Self.laundering([
          .load(.word, .r3, from: .r2, offset: 0),
          .move(.r4, .r3), .add(.r4, immediate: 8),
          .store(.word, .r4, to: .r2, offset: 0),
          .add(.r3, immediate: 4000),
          .store(.word, .r3, to: .r2, offset: 4),
          .store(.word, .r4, to: .r2, offset: 8),
          .move(.r0, immediate: Int32(XDPAction.tx.rawValue)), .exit,
        ])))
    frames.run(program, form: .perPacket, count: 4)
    // The store of data (the laundered body's first store) in the last
    // frame's record, the fourth of 32 bytes.
    let records = try #require(
      frames.machine.addressSpace.regions.first { $0.name.contains("record") })
    let store = Self.laundering([]).count + 3
    #expect(
      frames.runner.lastError
        == .execution(
          packet: 3,
          .memoryFault(index: store, address: UInt64(records.start) + 96, size: 4, write: true)))
    #expect(frames.runner.verdicts.map(\.action) == Array(repeating: .aborted, count: 4))
    #expect(frames.runner.verdicts.map(\.data) == frames.frames.map(\.data))
    #expect(frames.runner.verdicts.map(\.length) == [60, 60, 60, 60])
  }

  /// Reads, then writes, the next frame's first byte (4096 bytes on): the
  /// frame faults as ABORTED, the next frame is untouched, and the next
  /// call runs as usual.
  @Test func anotherFramesBytesAreOutOfReach() throws {
    let frames = try Frames()
    let reading = try frames.machine.prepare(
      instructions: [
        .load(.word, .r2, from: .r1, offset: 0),
        .add(.r2, immediate: 4096),
        .load(.byte, .r0, from: .r2, offset: 0),
        .exit,
      ])
    let writing = try frames.machine.prepare(
      instructions: [
        .load(.word, .r2, from: .r1, offset: 0),
        .add(.r2, immediate: 4096),
        .store(.byte, immediate: 0x99, to: .r2, offset: 0),
        .move(.r0, immediate: 2), .exit,
      ])
    for program in [reading, writing] {
      frames.run(program, form: .perPacket, count: 1)
      #expect(frames.runner.verdicts.map(\.action) == [.aborted])
      guard
        case .execution(packet: 0, .memoryFault(let index, let address, _, _)) =
          frames.runner.lastError
      else {
        Issue.record("expected a memory fault, got \(String(describing: frames.runner.lastError))")
        continue
      }
      #expect(index == 2)
      #expect(address == UInt64(frames.frames[1].data))
    }
    #expect(frames.bytes(1) == [UInt8](repeating: 0x11, count: 60))
    // The frame's own bytes stay reachable to the call that runs on it.
    let own = try frames.machine.prepare(
      instructions: [
        .load(.word, .r2, from: .r1, offset: 0),
        .load(.byte, .r0, from: .r2, offset: 0),
        .arithmetic(.and, .r0, immediate: 3), .exit,
      ])
    frames.run(own, form: .perPacket, count: 4)
    #expect(frames.runner.lastError == nil)
    #expect(frames.runner.verdicts.map(\.action) == [.aborted, .drop, .pass, .tx])
  }

  /// In batch form a call reaches the frames of its batch and no other:
  /// the record of frame 0 reads 4096 bytes on (frame 1, in the batch) or
  /// 8192 (frame 2, outside it); per packet, frame 1 is out of reach too.
  @Test func aBatchReachesItsOwnFramesOnly() throws {
    let frames = try Frames()
    func body(distance: Int32) -> Program {
      Program(
        name: "reach", sectionName: "xdp",
        instructions: [
          .load(.word, .r2, from: .r1, offset: 0),
          .load(.byte, .r3, from: .r2, offset: 0),
          .jump(.jne, .r3, immediate: 0x10, offset: 1),
          .add(.r2, immediate: distance),
          .load(.byte, .r0, from: .r2, offset: 0),
          .move(.r0, immediate: 2), .exit,
        ])
    }
    func batch(distance: Int32) throws -> PreparedProgram {
      let form = try BatchTrampoline(strategy: .reserve, bound: .endPointer, batchSize: 64)
        .rewrite(body(distance: distance)).program
      return try frames.machine.prepare(form, form: .batch)
    }
    frames.run(try batch(distance: 4096), form: .batch, count: 2)
    #expect(frames.runner.lastError == nil)
    #expect(frames.runner.verdicts.map(\.action) == [.pass, .pass])
    frames.run(try batch(distance: 2 * 4096), form: .batch, count: 2)
    #expect(frames.runner.verdicts.map(\.action) == [.aborted, .aborted])
    guard case .execution(_, .memoryFault(_, let address, _, _)) = frames.runner.lastError else {
      Issue.record("expected a memory fault, got \(String(describing: frames.runner.lastError))")
      return
    }
    #expect(address == UInt64(frames.frames[2].data))
    frames.run(try frames.machine.prepare(body(distance: 4096)), form: .perPacket, count: 1)
    #expect(frames.runner.verdicts.map(\.action) == [.aborted], "per packet, frame 1 is not lent")
  }
}
