import BPF
import Engine
import Frames
import Lab
import Rewriter
import Testing

/// `xdpbatch run`'s work in the lab: one program in the engine over
/// frames, per packet or in its batch form, and its failures named in the
/// program as compiled.
@Suite struct EngineRunTests {
  /// Returns XDP_PASS.
  static let passes = Program(
    name: "passes", sectionName: "xdp", instructions: [.move(.r0, immediate: 2), .exit])

  /// Reads address 0 at instruction 1: a memory fault on every frame.
  static let faults = Program(
    name: "faults", sectionName: "xdp",
    instructions: [
      .move(.r1, immediate: 0), .load(.word, .r0, from: .r1, offset: 0), .exit,
    ])

  static func run(_ program: Program, _ form: Form, batchSize: Int = 4) -> EngineRun {
    EngineRun(
      program: program, maps: [], form: form, trampoline: BatchTrampoline(batchSize: batchSize),
      engine: .interpreter)
  }

  static var frames: [[UInt8]] {
    var generator = FrameGenerator(seed: 7)
    return generator.frames(10)
  }

  @Test func perPacketCallsTheProgramOncePerFrame() throws {
    let outcome = try Self.run(Self.passes, .perPacket).run(Self.frames)
    #expect(outcome.report.totals[.pass].packets == 10)
    #expect(outcome.report.totals.totalPackets == 10)
    #expect(outcome.report.invocations == 10)
    #expect(outcome.report.outcomes.map(\.action) == Array(repeating: .pass, count: 10))
    #expect(outcome.elapsed > .zero)
  }

  @Test func theBatchFormCallsItOncePerBatch() throws {
    let run = Self.run(Self.passes, .batch)
    #expect(try run.batchProgram() != nil)
    let outcome = try run.run(Self.frames)
    #expect(outcome.report.totals[.pass].packets == 10)
    #expect(outcome.report.invocations == 3, "10 frames in batches of 4")
  }

  @Test func perPacketHasNoBatchForm() throws {
    #expect(try Self.run(Self.passes, .perPacket).batchProgram() == nil)
  }

  @Test func aFaultPerPacketNamesTheInstruction() {
    let error = #expect(throws: EngineRunError.self) {
      try Self.run(Self.faults, .perPacket).run(Self.frames)
    }
    guard case .run(let failure, let batch) = error else {
      Issue.record("expected a run failure, got \(String(describing: error))")
      return
    }
    #expect(batch == nil)
    guard case .execution(_, let execution) = failure else {
      Issue.record("expected an execution error, got \(failure)")
      return
    }
    #expect(execution == .memoryFault(index: 1, address: 0, size: 4, write: false))
    #expect(error?.description == failure.description, "no location is added per packet")
  }

  @Test func aFaultInTheBatchFormIsNamedInTheProgramAsCompiled() throws {
    let error = #expect(throws: EngineRunError.self) {
      try Self.run(Self.faults, .batch).run(Self.frames)
    }
    let description = try #require(error?.description)
    #expect(description.hasSuffix(" (instruction 1 of the program as compiled)"), "\(description)")
  }

  /// Frames made a chunk at a time (`run --packets N`) are the frames of one
  /// list, called in the same batches: 5,000 frames in batches of 48 cross
  /// a chunk's end (4,080 frames) inside what would be one batch.
  @Test func generatedFramesRunAsOneListWould() throws {
    #expect(EngineRun.chunkSize(batchSize: 48) == 4080)
    let counting = Program(
      name: "counting", sectionName: "xdp",
      instructions: [
        .load(.word, .r2, from: .r1, offset: 4), .load(.word, .r3, from: .r1, offset: 0),
        .arithmetic(.sub, .r2, .r3), .move(.r0, immediate: 1),
        .jump(.jgt, .r2, immediate: 100, offset: 1), .move(.r0, immediate: 2), .exit,
      ])
    for form in [Form.perPacket, .batch] {
      let run = Self.run(counting, form, batchSize: 48)
      var generator = FrameGenerator(seed: 3)
      let whole = try run.run(generator.frames(5000))
      let chunked = try run.run(
        generating: 5000, with: FrameGenerator(seed: 3), keepingOutcomes: true)
      #expect(chunked.report.outcomes == whole.report.outcomes, "\(form)")
      #expect(chunked.report.totals == whole.report.totals, "\(form)")
      #expect(chunked.report.invocations == whole.report.invocations, "\(form)")
      #expect(chunked.report.instructions == whole.report.instructions, "\(form)")
      #expect(whole.report.totals[.drop].packets > 0, "some frames are longer than 100 bytes")
      #expect(whole.report.totals[.pass].packets > 0, "some are not")
      let counted = try run.run(
        generating: 5000, with: FrameGenerator(seed: 3), keepingOutcomes: false)
      #expect(counted.report.outcomes.isEmpty)
      #expect(counted.report.totals == whole.report.totals, "\(form)")
    }
  }

  /// `run --trace`: what `bpf_trace_printk` printed is handed over after
  /// each chunk, every line of every frame, across a chunk's end.
  @Test func traceLinesAreHandedOverAsTheRunGoes() throws {
    // "pkt %d" on the stack; trace_printk(fmt, 8, data_end - data).
    let printsLength = Program(
      name: "prints", sectionName: "xdp",
      instructions: [
        .load(.word, .r2, from: .r1, offset: 0), .load(.word, .r3, from: .r1, offset: 4),
        .arithmetic(.sub, .r3, .r2),
        .store(.word, immediate: 0x2074_6b70, to: .r10, offset: -8),  // "pkt "
        .store(.word, immediate: 0x6425, to: .r10, offset: -4),  // "%d\0\0"
        .move(.r1, .r10), .add(.r1, immediate: -8), .move(.r2, immediate: 8),
        .call(helper: HelperFunction.tracePrintk.rawValue),
        .move(.r0, immediate: 2), .exit,
      ])
    var chunks = 0
    var lines: [String] = []
    let outcome = try Self.run(printsLength, .perPacket).run(
      generating: 5000, with: FrameGenerator(seed: 3), keepingOutcomes: false,
      trace: {
        chunks += 1
        lines += $0
      })
    var generator = FrameGenerator(seed: 3)
    #expect(lines == generator.frames(5000).map { "pkt \($0.count)" })
    #expect(chunks == 2, "4,096 frames, then 904")
    #expect(outcome.machine.traceLog.dropped == 0)
    #expect(outcome.machine.traceLog.lines.isEmpty, "every line was taken")
  }
}
