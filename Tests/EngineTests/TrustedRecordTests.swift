import BPF
import Foundation
import Testing

@testable import Engine

/// The record a call may trust (``Machine/trustedRecord(_:)``,
/// ``JITCompiler/emitTrustCheck()``): the proven copy loads `data` and
/// `data_end` through the entry's R1 with no check and proves ranges
/// against them with no packet guard, only while R1 is the record the
/// entry named, whose frame lies in open pages. A stale record, a record
/// of another call, a forged `data_end`, an R1 other than the named
/// record, a tail call entered with another R1, bounds a helper moved
/// past the open pages and a lent frame whose packet leaves it each run
/// as in the interpreter: the same verdict,
/// fault (instruction, address, size) and instruction count.
@Suite struct TrustedRecordTests {
  /// Proves 40 bytes from `data` (slot 5) and reads byte 39 (slot 6).
  static let parser = PacketRangeTests.parser(
    bytes: 40, accesses: [.load(.byte, .r0, from: .r2, offset: 39)], tail: [.exit])

  /// One engine's machine, a live runner and two one-page frames, closed to
  /// programs, with byte 39 of frame k's packet `0x40 + k`.
  struct Live {
    let machine: Machine
    let runner: LiveFrameRunner
    let region: Region
    let programs: [PreparedProgram]

    init(
      _ engine: EngineKind, _ programs: [[Instruction]], maps: [MapDefinition] = [],
      lends: Bool = true
    ) throws {
      machine = try Machine(maps: maps, configuration: MachineConfiguration(engine: engine))
      runner = try LiveFrameRunner(machine: machine)
      runner.lendsFrames = lends
      region = try machine.addressSpace.map(length: 2 * 4096, name: "umem")
      machine.addressSpace.closePages(of: region)
      let machine = machine
      self.programs = try programs.enumerated().map {
        try machine.prepare(instructions: $0.element, name: "p\($0.offset)")
      }
      for page in 0..<2 {
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

    /// A per-packet run of program 0 over `frames`: each verdict's action
    /// and the run's error.
    func run(_ frames: [LiveFrameRunner.Frame]) -> [String] {
      frames.withUnsafeBufferPointer { runner.run(programs[0], frames: $0, form: .perPacket) }
      return runner.verdicts.map { "\($0.action)" } + [
        "\(runner.lastError.map { "\($0)" } ?? "ok")"
      ]
    }

    /// R0 or the error of a run of program 0 with `r1`, and its count.
    func call(_ r1: UInt64) -> (String, Int) {
      do {
        return ("R0 = \(try machine.run(programs[0], r1: r1))", machine.lastInstructionCount)
      } catch {
        return ("\(error)", machine.lastInstructionCount)
      }
    }
  }

  static func fault(_ index: Int, _ address: UInt64) -> String {
    "instruction \(index): read of 1 bytes at 0x\(String(address, radix: 16)) is out of bounds"
  }

  @Test func aStaleRecordRunsInTheCheckedCopy() throws {
    let outcomes = try [EngineKind.interpreter, .jit].map { engine in
      let live = try Live(engine, [Self.parser])
      let frames = [live.frame(0), live.frame(1)]
      let record = live.runner.recordAddress(0)
      // Each call's own frame, lent: byte 39 of each (0x40 = 64, 0x41 = 65:
      // ABORTED is 0, so both pass through as actions 64 and 65 = ABORTED).
      let verdicts = live.run(frames)
      // The run is over: frame 0's pages are closed, its record stale.
      #expect(live.machine.trustedRecord(record) == 0)
      live.machine.lendPages(from: UInt64(frames[0].hardStart), to: UInt64(frames[0].hardEnd))
      #expect(live.machine.trustedRecord(record) == record, "lent again: trusted")
      let lent = live.call(record)
      live.machine.takeBackPages(from: UInt64(frames[0].hardStart), to: UInt64(frames[0].hardEnd))
      return (verdicts, lent, live.call(record), UInt64(frames[0].data))
    }
    #expect(outcomes[1].0 == outcomes[0].0)
    #expect(outcomes[1].1 == outcomes[0].1 && outcomes[1].1 == ("R0 = 64", 8))
    #expect(outcomes[1].2 == outcomes[0].2)
    #expect(outcomes[1].2 == (Self.fault(6, outcomes[1].3 + 39), 7))
  }

  @Test func aRecordOfAnotherCallRunsInTheCheckedCopy() throws {
    // r1 += 32: the next record, whose frame is not lent to this call.
    let program = [Instruction.add(.r1, immediate: 32)] + Self.parser
    let outcomes = try [EngineKind.interpreter, .jit].map { engine in
      let live = try Live(engine, [program])
      let frames = [live.frame(0), live.frame(1)]
      return (live.run(frames), UInt64(frames[1].data))
    }
    #expect(outcomes[1].0 == outcomes[0].0)
    // The second call's next record was never filled: data = data_end = 0.
    let error = ExecutionError.memoryFault(
      index: 7, address: outcomes[1].1 + 39, size: 1, write: false)
    #expect(outcomes[1].0 == ["aborted", "aborted", "\(RunError.execution(packet: 0, error))"])
  }

  @Test func aForgedDataEndRunsInTheCheckedCopy() throws {
    let outcomes = try [EngineKind.interpreter, .jit].map { engine in
      let live = try Live(engine, [Self.parser], lends: false)
      let start = UInt64(live.region.start)
      live.machine.addressSpace.openPages(from: start, to: start + 4096)
      // 20 bytes ending 10 before the page's end: too short for the parser.
      let frame = live.frame(0, data: 4096 - 30, length: 20, hardEnd: 4096)
      let record = live.runner.recordAddress(0)
      let honest = live.run([frame])
      #expect(live.machine.trustedRecord(record) == record)
      // A data_end past the open page, written around the program.
      #expect(live.machine.addressSpace.writeWord(UInt32(start) + 4096 + 100, at: record + 4))
      #expect(live.machine.trustedRecord(record) == 0)
      return (honest, live.call(record), start)
    }
    #expect(outcomes[1].0 == outcomes[0].0 && outcomes[1].0 == ["aborted", "ok"])
    #expect(outcomes[1].1 == outcomes[0].1)
    #expect(outcomes[1].1 == (Self.fault(6, outcomes[1].2 + 4096 + 9), 7))
  }

  @Test func anR1OtherThanTheNamedRecordRunsInTheCheckedCopy() throws {
    var outcomes: [(String, Int)] = []
    for engine in [EngineKind.interpreter, .jit] {
      let live = try Live(engine, [Self.parser])
      let frames = [live.frame(0), live.frame(1)]
      _ = live.run(frames)
      // Frame 0 lent, its record named; the call's R1 is record 1, whose
      // frame is closed.
      let (named, other) = (live.runner.recordAddress(0), live.runner.recordAddress(1))
      live.machine.lendPages(from: UInt64(frames[0].hardStart), to: UInt64(frames[0].hardEnd))
      guard engine == .jit else {
        outcomes.append(live.call(other))
        continue
      }
      let series = live.machine.beginSeries(live.programs[0])
      let (entry, context) = (try #require(series.entry), try #require(series.context))
      func call(_ r1: UInt64) -> (String, Int) {
        live.machine.jit[JITContext.trustedRecord] = named
        let result = entry(context, r1, 0)
        do {
          let value = try live.machine.finishCompiledRun(result)
          return ("R0 = \(value)", live.machine.lastInstructionCount)
        } catch {
          return ("\(error)", live.machine.lastInstructionCount)
        }
      }
      #expect(call(named) == ("R0 = 64", 8))
      outcomes.append(call(other))
      outcomes.append((Self.fault(6, UInt64(frames[1].data) + 39), 7))
    }
    #expect(outcomes[1] == outcomes[0])
    #expect(outcomes[1] == outcomes[2])
  }

  @Test func aTailCallEnteredWithAnotherR1RunsInTheCheckedCopy() throws {
    let maps = [
      MapDefinition(name: "jmp", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 1)
    ]
    // The caller moves R1 to the next record and tail-calls the parser.
    let caller =
      [Instruction.add(.r1, immediate: 32)] + Instruction.map(.r2, 0) + [
        .move(.r3, immediate: 0), .helper(.tailCall), .move(.r0, immediate: 9), .exit,
      ]
    let outcomes = try [EngineKind.interpreter, .jit].map { engine in
      let live = try Live(engine, [caller, Self.parser], maps: maps)
      try live.machine.maps[0].setProgram(live.programs[1], at: 0)
      let frames = [live.frame(0), live.frame(1)]
      // The second run's tail calls are native (the first compiled the target).
      _ = live.run(frames)
      return (live.run(frames), live.machine.lastInstructionCount, UInt64(frames[1].data))
    }
    #expect(outcomes[1].0 == outcomes[0].0)
    #expect(outcomes[1].1 == outcomes[0].1)
    let error = ExecutionError.memoryFault(
      index: 6, address: outcomes[1].2 + 39, size: 1, write: false)
    #expect(outcomes[1].0 == ["aborted", "aborted", "\(RunError.execution(packet: 0, error))"])
  }

  @Test func boundsAHelperMovedPastTheOpenPagesRunInTheCheckedCopy() throws {
    // data_end grown by 4000 bytes, into the frame's second page (closed),
    // the parser then proving 4064 bytes and reading the last.
    let program: [Instruction] =
      [
        .move(.r6, .r1), .move(.r2, immediate: 4000), .helper(.xdpAdjustTail), .move(.r1, .r6),
      ]
      + PacketRangeTests.parser(
        bytes: 4064, accesses: [.load(.byte, .r0, from: .r2, offset: 4063)], tail: [.exit])
    let outcomes = try [EngineKind.interpreter, .jit].map { engine in
      let live = try Live(engine, [program], lends: false)
      let start = UInt64(live.region.start)
      live.machine.addressSpace.openPages(from: start, to: start + 4096)
      // The frame's hard end lies in the closed page: never trusted.
      let frame = live.frame(0, hardEnd: 4096 + 2048)
      #expect(live.machine.trustedRecord(live.runner.recordAddress(0)) == 0)
      return (live.run([frame]), start)
    }
    #expect(outcomes[1].0 == outcomes[0].0)
    let error = ExecutionError.memoryFault(
      index: 10, address: outcomes[1].1 + 256 + 4063, size: 1, write: false)
    #expect(outcomes[1].0 == ["aborted", "\(RunError.execution(packet: 0, error))"])
  }

  @Test func aLentFrameWhosePacketLeavesItRunsInTheCheckedCopy() throws {
    // The runner's per-packet call tests a frame it lent from closed
    // pages by its bounds (``LiveFrameRunner/Frame/fitsItsPages``, then
    // ``ContextRecords/trustedLent(_:)``): here the caller's packet runs
    // past `data_hard_end` and the lent page into the closed one, and the
    // parser proves 4064 bytes and reads the last of them.
    let program = PacketRangeTests.parser(
      bytes: 4064, accesses: [.load(.byte, .r0, from: .r2, offset: 4063)], tail: [.exit])
    let outcomes = try [EngineKind.interpreter, .jit].map { engine in
      let live = try Live(engine, [program])
      let verdicts = live.run([live.frame(0, length: 4064)])
      return (verdicts, live.machine.lastInstructionCount)
    }
    // The load at slot 6 faults in both (7 instructions; a trusted copy
    // would read the closed page and run all 8), and the runner then
    // refuses the packet, which lies outside its frame.
    #expect(outcomes[1].0 == outcomes[0].0)
    #expect(outcomes[1].1 == outcomes[0].1 && outcomes[1].1 == 7)
    #expect(
      outcomes[1].0.first == "aborted" && outcomes[1].0.last?.contains("outside its frame") == true)
  }

  @Test func xdpTxsCompareHasNoGuardAndItsFieldLoadsNoCheck() throws {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("build/samples/xdp_tx.o").path
    let object = try BPFObject(contentsOf: path)
    let machine = try Machine(configuration: MachineConfiguration(engine: .jit))
    let program = try machine.prepare(try object.program(named: "xdp_tx"))
    let ranges = PacketRanges(slots: program.slots, count: program.count + 1)
    // w2 = data_end (slot 1), w1 = data (slot 2), r3 = data + 14, the
    // compare at slot 5: trusted, no guard, no check of the fields.
    let site = PacketRanges.Site(register: 3, bytes: 14, end: 2)
    #expect(ranges.proofSites == [5: site])
    #expect(ranges.trustedSites == [5: site])
    #expect(ranges.guardSites.isEmpty)
    #expect(ranges.trustedLoads == [1, 2])
    #expect(JITCompiler(program).contextFields.isEmpty)
    // The body starts with `cmp rdi, [r12 + trusted record]`.
    let check: [UInt8] =
      [0x49, 0x3b, 0xbc, 0x24]
      + withUnsafeBytes(of: JITContext.trustedRecord.littleEndian) { Array($0) }
    let code = try machine.nativeCode(for: program).bytes
    #expect(!code.starts(of: check).isEmpty)
  }
}
