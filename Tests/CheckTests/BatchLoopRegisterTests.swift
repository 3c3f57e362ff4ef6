import BPF
import Check
import Frames
import Rewriter
import Testing

@testable import Engine

/// Issue 22: the batch loop keeps its cursor and bound in callee-saved
/// registers the program never names (``TrampolineSlots``), so the
/// per-packet epilogue loads and stores nothing but the verdict. Every
/// packet must still get the per-packet form's verdict, in both engines,
/// whichever registers the body writes and whatever its helpers clobber.
struct BatchLoopRegisterTests {
  /// Frames shorter than 6 bytes pass; else the verdict is byte 5's low
  /// two bits plus one (DROP, PASS, TX or REDIRECT without a target),
  /// computed in `verdict`, after a map lookup and `bpf_ktime_get_ns`
  /// (helpers that clobber R0 - R5) and with `scratch` written on the way.
  static func program(verdict: Register, scratch: [Register]) -> Program {
    var instructions: [Instruction] = [
      .load(.word, .r2, from: .r1, offset: 0),
      .load(.word, .r3, from: .r1, offset: 4),
      .move(.r4, .r2),
      .add(.r4, immediate: 6),
      .move(.r0, immediate: 2),
      .jump(.jgt, .r4, .r3, offset: 0),  // -> exit, aimed below
      .load(.byte, .r4, from: .r2, offset: 5),
      .arithmetic(.and, .r4, immediate: 3),
      .move(verdict, .r4),
      .add(verdict, immediate: 1),
    ]
    // Scratch registers hold values unlike any record's address.
    for (number, register) in scratch.enumerated() where register != verdict {
      instructions.append(.move(register, immediate: Int32(0x5a5a + number)))
    }
    instructions += [
      .store(.word, immediate: 0, to: .r10, offset: -4),
      .move(.r2, .r10),
      .add(.r2, immediate: -4),
    ]
    instructions += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
    instructions += [
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .call(helper: HelperFunction.ktimeGetNanoseconds.rawValue),
    ]
    for register in scratch where register != verdict {
      instructions.append(.add(register, immediate: 1))
    }
    instructions += [.move(.r0, verdict), .exit]
    let exit = instructions.count - 1
    instructions[5].offset = Int16(exit - 6)
    return Program(name: "verdict_in_\(verdict)", sectionName: "xdp", instructions: instructions)
  }

  static let counters = MapDefinition(
    name: "counters", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)

  /// The per-packet form's outcomes and the batch form's, in each engine,
  /// over `frames` in one batch per `batchSize` frames.
  static func outcomes(_ program: Program, _ frames: [[UInt8]], batchSize: Int = 64) throws
    -> [String: [PacketOutcome]]
  {
    let batch = try BatchTrampoline(batchSize: batchSize).rewrite(program).program
    var result: [String: [PacketOutcome]] = [:]
    for engine in EngineKind.allCases {
      for (form, source) in [(Form.perPacket, program), (Form.batch, batch)] {
        let machine = try Machine(
          maps: [counters], configuration: MachineConfiguration(engine: engine))
        let runner = try PacketRunner(
          machine: machine, program: try machine.prepare(source, form: form), form: form,
          batchSize: batchSize)
        let report = try runner.run(frames)
        if engine == .jit { #expect(machine.engineFallback == nil) }
        result["\(engine) \(form)"] = report.outcomes
      }
    }
    return result
  }

  static func expectAgreement(_ outcomes: [String: [PacketOutcome]], _ frames: [[UInt8]]) {
    let expected = frames.map { frame -> XDPAction in
      frame.count < 6 ? .pass : XDPAction(rawValue: UInt32(frame[5] & 3) + 1)!
    }
    #expect(outcomes.count == 4)
    for (name, list) in outcomes {
      #expect(list.map(\.action) == expected, "\(name)")
    }
  }

  /// A body that writes every callee-saved register leaves none to the
  /// loop: cursor and bound stay on the stack, and each record still
  /// gets its own verdict (a cursor kept in R6 - R9 here would be
  /// overwritten by the body and the verdicts stored into no record).
  @Test func aBodyWritingEveryCalleeSavedRegisterKeepsTheLoopOnTheStack() throws {
    let program = Self.program(verdict: .r9, scratch: [.r6, .r7, .r8])
    let batch = try BatchTrampoline().rewrite(program)
    #expect(batch.layout.slots.cursorRegister == nil)
    #expect(batch.layout.slots.boundRegister == nil)
    var generator = FrameGenerator(seed: 2201)
    let frames = generator.frames(300)
    Self.expectAgreement(try Self.outcomes(program, frames), frames)
  }

  /// Registers the body leaves free hold the loop across helper calls,
  /// which clobber R1 - R5 (and in the JIT the registers the C calling
  /// convention does not keep).
  @Test func theCursorInACalleeSavedRegisterSurvivesHelperCalls() throws {
    let program = Self.program(verdict: .r6, scratch: [])
    let batch = try BatchTrampoline().rewrite(program)
    #expect(batch.layout.slots.cursorRegister == .r7)
    #expect(batch.layout.slots.boundRegister == .r8)
    // One free register: the cursor there, the end on the stack.
    let one = Self.program(verdict: .r6, scratch: [.r7, .r8])
    let oneBatch = try BatchTrampoline().rewrite(one)
    #expect(oneBatch.layout.slots.cursorRegister == .r9)
    #expect(oneBatch.layout.slots.boundRegister == nil)
    var generator = FrameGenerator(seed: 2202)
    let frames = generator.frames(300)
    Self.expectAgreement(try Self.outcomes(program, frames), frames)
    Self.expectAgreement(try Self.outcomes(one, frames), frames)
  }

  /// The last record of a full batch gets its verdict, and the loop stops
  /// there: batches of exactly the largest size, then one frame over.
  @Test(arguments: [PacketRunner.maximumBatch, PacketRunner.maximumBatch + 1])
  func theLastRecordOfAFullBatchGetsItsVerdict(_ count: Int) throws {
    let program = Self.program(verdict: .r6, scratch: [])
    var generator = FrameGenerator(seed: 2203)
    // Every frame long enough, so each verdict comes from its own byte 5.
    let frames = generator.frames(count).map {
      $0.count < 6 ? $0 + [UInt8](repeating: 3, count: 6) : $0
    }
    let outcomes = try Self.outcomes(program, frames, batchSize: PacketRunner.maximumBatch)
    Self.expectAgreement(outcomes, frames)
    let last = try #require(outcomes["jit batch"]?.last)
    #expect(last.action == XDPAction(rawValue: UInt32(frames[count - 1][5] & 3) + 1))
  }
}
