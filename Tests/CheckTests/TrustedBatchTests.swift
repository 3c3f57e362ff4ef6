import BPF
import Foundation
import Rewriter
import TestSupport
import Testing

@testable import Engine

/// The batch a call may trust (``Machine/trustedCount(_:_:)``,
/// ``ContextRecords/trustedCount(_:)``, ``JITCompiler/emitTrustCheck()``):
/// the batch form's proven copy loads `data` and `data_end` through its
/// cursor with no check and proves ranges against them with no packet
/// guard, only while R1 and R2 are the batch the entry named, every record
/// of which passed the test of one trusted record. A stale record inside
/// the batch, a count larger than named, another R1, a forged `data_end`
/// in a record past the first, bounds a helper moved past the open pages
/// and `data` and `data_end` read from two different records each run as
/// in the interpreter: the same verdicts, fault (instruction, address,
/// size) and instruction count.
@Suite struct TrustedBatchTests {
  /// Proves `bytes` bytes from `data` and returns the last one.
  static func parser(bytes: Int32) -> [Instruction] {
    [
      .load(.word, .r2, from: .r1, offset: 0),
      .load(.word, .r3, from: .r1, offset: 4),
      .move(.r4, .r2),
      .add(.r4, immediate: bytes),
      .move(.r0, immediate: 0),
      .jump(.jgt, .r4, .r3, offset: 1),
      .load(.byte, .r0, from: .r2, offset: Int16(bytes - 1)),
      .exit,
    ]
  }

  /// The batch form of `instructions` (the engine's convention: the
  /// cursor and the end in R6 - R9 the program leaves unnamed).
  static func batch(_ instructions: [Instruction]) throws -> Program {
    try BatchTrampoline().rewrite(
      Program(name: "parser", sectionName: "xdp", instructions: instructions)
    ).program
  }

  /// One engine's machine, a live runner that lends nothing (the tests
  /// open pages themselves) and three one-page frames' pages, closed to
  /// programs, with byte 39 from `data` = 256 of page k `0x40 + k`.
  struct Live {
    let machine: Machine
    let runner: LiveFrameRunner
    let region: Region
    let program: PreparedProgram

    /// `bare`: prepared as a bare instruction sequence (not checked as a
    /// batch form from the rewriter).
    init(_ engine: EngineKind, _ program: Program, bare: Bool = false) throws {
      machine = try Machine(configuration: MachineConfiguration(engine: engine))
      runner = try LiveFrameRunner(machine: machine)
      runner.lendsFrames = false
      region = try machine.addressSpace.map(length: 3 * 4096, name: "umem")
      machine.addressSpace.closePages(of: region)
      self.program =
        bare
        ? try machine.prepare(instructions: program.instructions, name: program.name)
        : try machine.prepare(program, form: .batch)
      for page in 0..<3 {
        machine.addressSpace.hostMemory(at: region.start + UInt32(page * 4096 + 256 + 39))
          .storeBytes(of: UInt8(0x40 + page), as: UInt8.self)
      }
    }

    /// Frame `page`: its page, `data` at `data`, `length` bytes, and
    /// `data_hard_end` at `hardEnd` from the page's start.
    func frame(
      _ page: Int, data: UInt32 = 256, length: UInt32 = 64, hardEnd: UInt32 = 4096 - 320
    ) -> LiveFrameRunner.Frame {
      let start = region.start + UInt32(page * 4096)
      return LiveFrameRunner.Frame(
        hardStart: start, data: start + data, length: length, hardEnd: start + hardEnd)
    }

    /// Opens `frame`'s pages, as a runner lends them.
    func lend(_ frame: LiveFrameRunner.Frame) {
      machine.lendPages(from: UInt64(frame.hardStart), to: UInt64(frame.hardEnd))
    }

    /// A runner's batch run over `frames` (which fills their records):
    /// each record's `act`, the run's error and instruction count.
    func run(_ frames: [LiveFrameRunner.Frame]) -> Outcome {
      frames.withUnsafeBufferPointer { runner.run(program, frames: $0, form: .batch) }
      return Outcome(
        "\(runner.lastError.map { "\($0)" } ?? "ok")", machine.lastInstructionCount,
        acts(frames.count))
    }

    /// A run of the program with `r1` = record 0 and `r2` = `count`.
    func call(count: UInt64) -> Outcome {
      let record = runner.recordAddress(0)
      do {
        let value = try machine.run(program, r1: record, r2: count)
        return Outcome("R0 = \(value)", machine.lastInstructionCount, acts(Int(count)))
      } catch {
        return Outcome("\(error)", machine.lastInstructionCount, acts(Int(count)))
      }
    }

    /// The JIT's code entered directly with `r1` and `r2`, the block
    /// naming `named` (first record, count) as the trusted batch.
    func enter(r1: UInt64, r2: UInt64, named: (UInt64, UInt64)) throws -> Outcome {
      let series = machine.beginSeries(program)
      let (entry, context) = (try #require(series.entry), try #require(series.context))
      machine.jit[JITContext.trustedRecord] = named.0
      machine.jit[JITContext.trustedCount] = named.1
      let result = entry(context, r1, r2)
      let count = Int(r2)
      do {
        let value = try machine.finishCompiledRun(result)
        return Outcome("R0 = \(value)", machine.lastInstructionCount, acts(count))
      } catch {
        return Outcome("\(error)", machine.lastInstructionCount, acts(count))
      }
    }

    /// The `act` of the first `count` records.
    func acts(_ count: Int) -> [UInt32] {
      (0..<count).map {
        let address = runner.recordAddress($0) + UInt64(XDPContextLayout.engine.action)
        return machine.addressSpace.hostMemory(at: UInt32(address)).loadUnaligned(as: UInt32.self)
      }
    }
  }

  /// A run's result or error, instruction count, and records' `act`s.
  struct Outcome: Equatable, CustomStringConvertible {
    var result: String
    var count: Int
    var acts: [UInt32]
    init(_ result: String, _ count: Int, _ acts: [UInt32]) {
      (self.result, self.count, self.acts) = (result, count, acts)
    }
    var description: String { "\(result), \(count) instructions, acts \(acts)" }
  }

  static func fault(_ index: Int, _ address: UInt64, size: Int = 1) -> String {
    "\(ExecutionError.memoryFault(index: index, address: address, size: size, write: false))"
  }

  /// The index of the parser's byte load in the batch form of `body`.
  static func byteLoad(_ program: Program) -> Int {
    program.instructions.firstIndex { $0.opcode == 0x71 && $0.src == .r2 } ?? -1
  }

  @Test func theBatchFormsCompareIsTrustedThroughItsCursor() throws {
    let batch = try Self.batch(Self.parser(bytes: 40))
    let machine = try Machine(configuration: MachineConfiguration(engine: .jit))
    let program = try machine.prepare(batch, form: .batch)
    let records = RecordCursors(slots: program.slots, count: program.count + 1)
    let ranges = PacketRanges(slots: program.slots, count: program.count + 1, records: records)
    #expect(!records.guardSites.isEmpty)
    #expect(ranges.proofSites.count == 1)
    #expect(ranges.trustedSites == ranges.proofSites)
    #expect(ranges.guardSites.isEmpty)
    #expect(ranges.trustsBatch)
    // Without the cursor's facts the compare keeps its guard.
    let alone = PacketRanges(slots: program.slots, count: program.count + 1)
    #expect(alone.trustedSites.isEmpty && alone.guardSites.count == 1)
    // The per-packet form trusts the entry's R1 alone: no count compared.
    let single = try machine.prepare(instructions: Self.parser(bytes: 40))
    let perPacket = PacketRanges(
      slots: single.slots, count: single.count + 1,
      records: RecordCursors(slots: single.slots, count: single.count + 1))
    #expect(perPacket.trustedSites.count == 1 && !perPacket.trustsBatch)
  }

  @Test func aRunnersBatchIsNamedAndRunsAsInTheInterpreter() throws {
    let program = try Self.batch(Self.parser(bytes: 40))
    var outcomes: [Outcome] = []
    for engine in [EngineKind.interpreter, .jit] {
      let live = try Live(engine, program)
      let frames = [live.frame(0), live.frame(1), live.frame(2)]
      for frame in frames { live.lend(frame) }
      outcomes.append(live.run(frames))
      if engine == .jit {
        #expect(live.machine.jit[JITContext.trustedRecord] == live.runner.recordAddress(0))
        #expect(live.machine.jit[JITContext.trustedCount] == 3)
      }
    }
    #expect(outcomes[1] == outcomes[0])
    #expect(outcomes[1].acts == [0x40, 0x41, 0x42] && outcomes[1].result == "ok")
  }

  @Test func aStaleRecordInsideTheBatchRunsInTheCheckedCopy() throws {
    let program = try Self.batch(Self.parser(bytes: 40))
    let index = Self.byteLoad(program)
    var outcomes: [Outcome] = []
    var address: UInt64 = 0
    for engine in [EngineKind.interpreter, .jit] {
      let live = try Live(engine, program)
      let frames = [live.frame(0), live.frame(1)]
      for frame in frames { live.lend(frame) }
      _ = live.run(frames)
      // Frame 1 taken back: record 1 is stale, record 0 still lent.
      live.machine.takeBackPages(from: UInt64(frames[1].hardStart), to: UInt64(frames[1].hardEnd))
      let first = live.runner.recordAddress(0)
      #expect(live.machine.trustedRecord(first) == first)
      #expect(live.machine.trustedCount(first, 2) == 0)
      #expect(live.machine.trustedCount(first, 1) == 1)
      outcomes.append(live.call(count: 2))
      address = UInt64(frames[1].data) + 39
    }
    #expect(outcomes[1] == outcomes[0])
    #expect(outcomes[1].result == Self.fault(index, address))
  }

  @Test func aCountLargerThanNamedRunsInTheCheckedCopy() throws {
    let program = try Self.batch(Self.parser(bytes: 40))
    let index = Self.byteLoad(program)
    var outcomes: [Outcome] = []
    var address: UInt64 = 0
    for engine in [EngineKind.interpreter, .jit] {
      let live = try Live(engine, program)
      let frames = [live.frame(0), live.frame(1)]
      // Both records filled; frame 1's pages closed: a batch of one named.
      live.lend(frames[0])
      _ = live.run(frames)
      let first = live.runner.recordAddress(0)
      address = UInt64(frames[1].data) + 39
      guard engine == .jit else {
        outcomes.append(live.call(count: 2))
        continue
      }
      #expect(try live.enter(r1: first, r2: 1, named: (first, 1)).result == "R0 = 1")
      outcomes.append(try live.enter(r1: first, r2: 2, named: (first, 1)))
      // Another R1 (record 1, its frame closed) with the count named.
      let other = try live.enter(r1: live.runner.recordAddress(1), r2: 1, named: (first, 1))
      #expect(other.result == Self.fault(index, address))
    }
    #expect(outcomes[1] == outcomes[0])
    #expect(outcomes[1].result == Self.fault(index, address))
  }

  @Test func aForgedDataEndPastTheFirstRecordRunsInTheCheckedCopy() throws {
    let program = try Self.batch(Self.parser(bytes: 40))
    let index = Self.byteLoad(program)
    var outcomes: [Outcome] = []
    var address: UInt64 = 0
    for engine in [EngineKind.interpreter, .jit] {
      let live = try Live(engine, program)
      // Frame 1: 20 bytes ending 10 before its page's end, too short.
      let frames = [live.frame(0), live.frame(1, data: 4096 - 30, length: 20, hardEnd: 4096)]
      for frame in frames { live.lend(frame) }
      let honest = live.run(frames)
      #expect(honest.acts == [0x40, 0] && honest.result == "ok")
      let (first, second) = (live.runner.recordAddress(0), live.runner.recordAddress(1))
      #expect(live.machine.trustedCount(first, 2) == 2)
      // Record 1's data_end past its open page, written around the program.
      let forged = UInt32(live.region.start) + 2 * 4096 + 100
      #expect(live.machine.addressSpace.writeWord(forged, at: second + 4))
      #expect(live.machine.trustedCount(first, 2) == 0)
      outcomes.append(live.call(count: 2))
      address = UInt64(frames[1].data) + 39
    }
    #expect(outcomes[1] == outcomes[0])
    #expect(outcomes[1].result == Self.fault(index, address))
  }

  @Test func boundsAHelperMovedPastTheOpenPagesRunInTheCheckedCopy() throws {
    // data_end grown by 4000 bytes (into page 2, closed for frame 1), the
    // parser then proving 4064 bytes and reading the last.
    let body: [Instruction] =
      [
        .move(.r9, .r1), .move(.r2, immediate: 4000),
        .call(helper: HelperFunction.xdpAdjustTail.rawValue), .move(.r1, .r9),
      ]
      + Self.parser(bytes: 4064)
    let program = try Self.batch(body)
    let index = Self.byteLoad(program)
    var outcomes: [Outcome] = []
    var address: UInt64 = 0
    for engine in [EngineKind.interpreter, .jit] {
      let live = try Live(engine, program)
      let start = UInt64(live.region.start)
      live.machine.addressSpace.openPages(from: start, to: start + 2 * 4096)
      // Frame 0 cannot grow (its hard end is near); frame 1's hard end
      // lies in page 2, closed: its record is never trusted.
      let frames = [live.frame(0), live.frame(1, hardEnd: 4096 + 2048)]
      outcomes.append(live.run(frames))
      #expect(live.machine.trustedCount(live.runner.recordAddress(0), 2) == 0)
      address = UInt64(frames[1].data) + 4063
    }
    #expect(outcomes[1] == outcomes[0])
    let error = ExecutionError.memoryFault(index: index, address: address, size: 1, write: false)
    #expect(outcomes[1].result == "\(RunError.execution(packet: 0, error))")
  }

  /// The runner lends frame 0 (page 2), frame 1 (pages 0 - 1) and then
  /// frame 2, which shares page 0 and leaves it open only to its own end:
  /// frame 1 is no longer trustworthy, its lending notwithstanding (the
  /// runner finds page 0 open at the third lending and tests every
  /// record), and its word across the page's end faults as in the
  /// interpreter.
  @Test func aPageALaterFrameOfTheBatchShrankRunsInTheCheckedCopy() throws {
    let program = try Self.batch(
      Array(Self.parser(bytes: 40).dropLast(2)) + [
        .load(.word, .r0, from: .r2, offset: 28), .exit,
      ])
    var outcomes: [Outcome] = []
    var address: UInt64 = 0
    for engine in [EngineKind.interpreter, .jit] {
      let live = try Live(engine, program)
      live.runner.lendsFrames = true
      let start = live.region.start
      let frames = [
        live.frame(2),
        LiveFrameRunner.Frame(
          hardStart: start + 2048, data: start + 4096 - 30, length: 60, hardEnd: start + 6144),
        LiveFrameRunner.Frame(
          hardStart: start, data: start + 256, length: 64, hardEnd: start + 2048),
      ]
      outcomes.append(live.run(frames))
      address = UInt64(frames[1].data) + 28
    }
    #expect(outcomes[1] == outcomes[0])
    let index = Self.batchIndex(ofBody: 6)
    let error = ExecutionError.memoryFault(index: index, address: address, size: 4, write: false)
    #expect(outcomes[1].result == "\(RunError.execution(packet: 0, error))")
  }

  /// The batch form's index of body instruction `index` (the engine's
  /// prologue, six instructions, before the body).
  static func batchIndex(ofBody index: Int) -> Int { index + 6 }

  /// A batch-like program that reads `data` from record 0 and `data_end`
  /// from record 1 (both records of the named batch), through R5 or, with
  /// `oneRegister`, through R1 moved to record 1 in between: no trusted
  /// site, the packet guard stands.
  static func mixed(oneRegister: Bool) -> [Instruction] {
    let end: [Instruction] =
      oneRegister
      ? [.move(.r1, .r5), .load(.word, .r3, from: .r1, offset: 4)]
      : [.load(.word, .r3, from: .r5, offset: 4)]
    return [
      .move(.r6, .r1),
      .arithmetic(.mul, .r2, immediate: 32),
      .arithmetic(.add, .r2, .r1),
      .move(.r7, .r2),
      .move(.r5, .r1),
      .add(.r5, immediate: 32),
      .move(.r0, immediate: 9),
      .jump(.jge, .r5, .r7, offset: Int16(7 + end.count)),
      .load(.word, .r2, from: .r1, offset: 0),
    ] + end + [
      .move(.r4, .r2),
      .add(.r4, immediate: 40),
      .move(.r0, immediate: 0),
      .jump(.jgt, .r4, .r3, offset: 1),
      .load(.byte, .r0, from: .r2, offset: 39),
      .store(.word, .r0, to: .r6, offset: 24),
      .exit,
    ]
  }

  @Test(arguments: [false, true])
  func dataAndDataEndFromTwoRecordsKeepTheirGuard(oneRegister: Bool) throws {
    let machine = try Machine(configuration: MachineConfiguration(engine: .jit))
    let instructions = Self.mixed(oneRegister: oneRegister)
    let prepared = try machine.prepare(instructions: instructions)
    let records = RecordCursors(slots: prepared.slots, count: prepared.count + 1)
    let ranges = PacketRanges(slots: prepared.slots, count: prepared.count + 1, records: records)
    let shift = oneRegister ? 1 : 0
    #expect(records.holdsRecord(1, at: 8) && records.holdsRecord(5, at: 9 + shift))
    #expect(ranges.trustedSites.isEmpty && ranges.guardSites.keys.sorted() == [13 + shift])
    let program = Program(name: "mixed", sectionName: "xdp", instructions: instructions)
    var outcomes: [Outcome] = []
    var address: UInt64 = 0
    for engine in [EngineKind.interpreter, .jit] {
      let live = try Live(engine, program, bare: true)
      // Frame 0: 20 bytes at its page's end (page 1 closed); frame 1 on
      // page 2, whose data_end lies far past frame 0's data + 40.
      let frames = [live.frame(0, data: 4096 - 30, length: 20, hardEnd: 4096), live.frame(2)]
      for frame in frames { live.lend(frame) }
      _ = live.run(frames)
      #expect(live.machine.trustedCount(live.runner.recordAddress(0), 2) == 2)
      outcomes.append(live.call(count: 2))
      address = UInt64(frames[0].data) + 39
    }
    #expect(outcomes[1] == outcomes[0])
    #expect(outcomes[1].result == Self.fault(14 + shift, address))
  }
}
