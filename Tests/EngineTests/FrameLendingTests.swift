import BPF
import Testing

@testable import Engine

/// Lending a frame's pages for one call (``Machine/lendPages(from:to:)``)
/// and taking them back (``Machine/takeBackPages(from:to:)``) leave the
/// space's generation as it is and empty only the JIT's access windows on
/// those pages: the next call keeps its windows on the records, the stack
/// and the map values, and no call passes an access through a window
/// another call filled from a frame that is no longer lent.
struct FrameLendingTests {
  /// A JIT machine and a one-page frame region, closed to programs.
  static func machineAndFrames(_ count: Int) throws -> (Machine, Region) {
    let machine = try Machine(configuration: MachineConfiguration(engine: .jit))
    let region = try machine.addressSpace.map(length: count * 4096, name: "umem")
    machine.addressSpace.closePages(of: region)
    return (machine, region)
  }

  static func word(_ machine: Machine, _ offset: Int32) -> UInt64 {
    machine.jit.context.load(fromByteOffset: Int(offset), as: UInt64.self)
  }

  /// R1 is the frame (the context's window fills from its page), the
  /// stack read the shared window: taking the frame back empties the
  /// context's window and keeps the stack's, with the generation
  /// unchanged; the next call through the frame faults, and after a lend
  /// it runs again.
  @Test func takingAFrameBackEmptiesOnlyTheWindowsOnItsPages() throws {
    let (machine, frame) = try Self.machineAndFrames(1)
    let program = try machine.prepare(instructions: [
      .store(.doubleWord, immediate: 7, to: .r10, offset: -8),
      // A stack pointer the JIT does not follow: checked, through the shared window.
      .move(.r3, .r10),
      .arithmetic(.and, .r3, immediate: -1),
      .load(.doubleWord, .r4, from: .r3, offset: -8),
      .load(.word, .r0, from: .r1, offset: 8),
      .move(.r0, immediate: 2), .exit,
    ])
    let address = UInt64(frame.start)
    let series = machine.beginSeries(program)
    machine.lendPages(from: address, to: address + 4096 - 320)
    #expect(try machine.runInSeries(series, program, r1: address) == 2)
    let generation = machine.addressSpace.generation.pointee
    let (context, other) = (AccessWindow.Region.context, AccessWindow.Region.other)
    #expect(Self.word(machine, context.low) == address)
    #expect(Self.word(machine, context.span(size: 4)) == 4093)
    let stackPage = Self.word(machine, other.low)
    #expect(stackPage != address && Self.word(machine, other.span(size: 8)) > 0)
    machine.takeBackPages(from: address, to: address + 4096 - 320)
    #expect(machine.addressSpace.generation.pointee == generation)
    for size in [1, 2, 4, 8] { #expect(Self.word(machine, context.span(size: size)) == 0) }
    #expect(Self.word(machine, other.low) == stackPage)
    #expect(Self.word(machine, other.span(size: 8)) > 0, "the stack's window stays filled")
    #expect(
      throws: ExecutionError.memoryFault(index: 4, address: address + 8, size: 4, write: false)
    ) {
      try machine.runInSeries(series, program, r1: address)
    }
    machine.lendPages(from: address, to: address + 4096 - 320)
    #expect(try machine.runInSeries(series, program, r1: address) == 2)
    #expect(machine.addressSpace.generation.pointee == generation)
  }

  /// A per-packet run of two lent frames (a byte 0x10 + N at each
  /// frame's `data`) through a program whose `access` goes through R2:
  /// the first frame's `data` in the first call, the second's less a
  /// page, so the first frame's `data` again, in the second, by the very
  /// instruction (and so window) the first call used.
  static func secondFrameReachingTheFirst(_ access: Instruction) throws -> (
    Machine, LiveFrameRunner, [LiveFrameRunner.Frame]
  ) {
    let (machine, region) = try machineAndFrames(2)
    let runner = try LiveFrameRunner(machine: machine)
    runner.lendsFrames = true
    let frames = (0..<2).map { index in
      let start = region.start + UInt32(index * 4096)
      machine.addressSpace.hostMemory(at: start + 256).storeBytes(
        of: UInt8(0x10 + index), as: UInt8.self)
      return LiveFrameRunner.Frame(
        hardStart: start, data: start + 256, length: 60, hardEnd: start + 4096 - 320)
    }
    let program = try machine.prepare(instructions: [
      .load(.word, .r2, from: .r1, offset: 0),
      .jump(.jeq, .r2, immediate: Int32(frames[0].data), offset: 1),
      .add(.r2, immediate: -4096),
      access,
      .move(.r0, immediate: 2), .exit,
    ])
    frames.withUnsafeBufferPointer { runner.run(program, frames: $0, form: .perPacket) }
    return (machine, runner, frames)
  }

  /// The live runner lends each call of a per-packet run its own frame
  /// (one series: the windows outlive a call): the second frame's call
  /// reads the first frame's byte through the very access (and so the
  /// window) the first call filled from its own frame, and faults.
  @Test func aWindowFilledFromTheLastFrameDoesNotReachIt() throws {
    let (_, runner, frames) = try Self.secondFrameReachingTheFirst(
      .load(.byte, .r0, from: .r2, offset: 0))
    #expect(runner.verdicts.map(\.action) == [.pass, .aborted])
    guard case .execution(1, .memoryFault(let index, let address, _, _)) = runner.lastError else {
      Issue.record("expected a memory fault, got \(String(describing: runner.lastError))")
      return
    }
    #expect(index == 3)
    #expect(address == UInt64(frames[0].data))
  }

  /// The same with a store: the first call writes its own frame (a lend
  /// opens the frame to stores too) and fills a store window; the second
  /// call's store through that very access to the first frame faults, as
  /// a take-back empties the store windows on the frame's pages too.
  @Test func aStoreWindowFilledFromTheLastFrameDoesNotReachIt() throws {
    let (machine, runner, frames) = try Self.secondFrameReachingTheFirst(
      .store(.byte, immediate: 0x5a, to: .r2, offset: 0))
    #expect(runner.verdicts.map(\.action) == [.pass, .aborted])
    #expect(machine.addressSpace.hostMemory(at: frames[0].data).load(as: UInt8.self) == 0x5a)
    guard
      case .execution(1, .memoryFault(let index, let address, let size, let write)) =
        runner.lastError
    else {
      Issue.record("expected a memory fault, got \(String(describing: runner.lastError))")
      return
    }
    #expect(index == 3 && size == 1 && write)
    #expect(address == UInt64(frames[0].data))
  }
}
