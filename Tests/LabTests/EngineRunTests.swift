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
}
