import BPF
import Rewriter
import Testing

@testable import Engine

/// Issue 22: the JIT stores a batch form's verdicts without a check where
/// it proves the cursor among the records the caller passed
/// (``RecordCursors``): the cursor and the end in loop registers the
/// program never names, the end computed from the count, and a guard once
/// per run that `[first record, end)` lies in one region. Anything else
/// (a count past the records, a bogus first record, a cursor on the
/// stack) is checked, and faults where the interpreter faults.
struct VerdictStoreTests {
  /// `r0 = verdict; exit`: a body that names no callee-saved register.
  static func constant(_ verdict: XDPAction) -> Program {
    Program(
      name: "verdict_\(verdict.rawValue)", sectionName: "xdp",
      instructions: [.move(.r0, immediate: Int32(verdict.rawValue)), .exit])
  }

  /// The slots of `program` prepared as a batch form, with its record
  /// cursors.
  static func cursors(_ batch: BatchProgram) throws -> RecordCursors {
    let machine = try Machine(
      maps: [BatchLoopRegisterTests.counters],
      configuration: MachineConfiguration(engine: .interpreter))
    let prepared = try machine.prepare(batch.program, form: .batch)
    return RecordCursors(slots: prepared.slots, count: prepared.count + 1)
  }

  @Test func theVerdictStoreIsProvenThroughTheUnnamedLoopRegisters() throws {
    let batch = try BatchTrampoline().rewrite(
      BatchLoopRegisterTests.program(verdict: .r6, scratch: []))
    let cursor = try #require(batch.layout.slots.cursorRegister)
    #expect(cursor == .r7)
    let cursors = try Self.cursors(batch)
    // The guard sits at the prologue's `r8 = r2` (the end into its loop
    // register), with the first record in R1 and the end in R2.
    #expect(
      cursors.guardSites == [batch.layout.prologue.upperBound - 1: .init(first: 1, end: 2)])
    let store = batch.layout.epilogue.lowerBound
    let action = Int32(XDPContextLayout.engine.action)
    #expect(cursors.proves(cursor.rawValue, action, size: 4, at: store))
    // Not past the record: the next record's first byte is not proven.
    #expect(!cursors.proves(cursor.rawValue, XDPContextLayout.engine.stride, size: 1, at: store))
    #expect(!cursors.proves(cursor.rawValue, -1, size: 1, at: store))
    // After the step the cursor may be the end: nothing through it is.
    #expect(!cursors.proves(cursor.rawValue, 0, size: 1, at: batch.layout.epilogue.upperBound - 1))
  }

  /// A body that names all four of R6 - R9 keeps the cursor on the
  /// stack: no guard, and the verdict store stays checked.
  @Test func aProgramNamingEveryCalleeSavedRegisterKeepsTheCheckedStore() throws {
    let batch = try BatchTrampoline().rewrite(
      BatchLoopRegisterTests.program(verdict: .r9, scratch: [.r6, .r7, .r8]))
    #expect(batch.layout.slots.cursorRegister == nil)
    let cursors = try Self.cursors(batch)
    #expect(cursors.guardSites.isEmpty)
    let store = batch.layout.epilogue.lowerBound + 1  // r1 = the cursor's slot; the store
    for register in UInt8(0)...9 {
      #expect(!cursors.proves(register, Int32(XDPContextLayout.engine.action), size: 4, at: store))
    }
  }

  /// A body that names three of R6 - R9 leaves the rewriter one loop
  /// register, the cursor, and keeps the end on the stack: the guard
  /// still runs, and the back-edge compares the cursor with the end it
  /// checked, so the verdict store stays proven.
  @Test func aBoundOnTheStackIsCheckedAtTheBackEdge() throws {
    let batch = try BatchTrampoline().rewrite(
      BatchLoopRegisterTests.program(verdict: .r8, scratch: [.r6, .r7]))
    let cursor = try #require(batch.layout.slots.cursorRegister)
    #expect(cursor == .r9)
    let cursors = try Self.cursors(batch)
    #expect(!cursors.guardSites.isEmpty)
    let backEdge = batch.layout.epilogue.upperBound - 1
    #expect(cursors.endChecks == [backEdge: cursor.rawValue])
    let action = Int32(XDPContextLayout.engine.action)
    #expect(cursors.proves(cursor.rawValue, action, size: 4, at: batch.layout.epilogue.lowerBound))
  }

  /// The rewriter's loop with its bound on the stack, which the body
  /// raises by two records each time round: the cursor walks past the
  /// records, and the first store past them faults in the JIT as in the
  /// interpreter, with nothing written there. Without the back-edge's
  /// compare with the checked end, the proven store would write past the
  /// records.
  @Test func aBoundOnTheStackThatTheBodyRaisesFaultsPastTheRecords() throws {
    let action = Int16(XDPContextLayout.engine.action)
    let stride = Int32(XDPContextLayout.engine.stride)
    let program = Program(
      name: "raised_bound", sectionName: "xdp",
      instructions: [
        .move(.r9, .r1), .store(.doubleWord, .r2, to: .r10, offset: -16),
        .jump(.jeq, .r2, immediate: 0, offset: 12),
        .arithmetic(.mul, .r2, immediate: stride), .arithmetic(.add, .r2, .r1),
        .store(.doubleWord, .r2, to: .r10, offset: -8),
        // loop: raise the bound, store the verdict, step.
        .load(.doubleWord, .r3, from: .r10, offset: -8), .add(.r3, immediate: 2 * stride),
        .store(.doubleWord, .r3, to: .r10, offset: -8),
        .move(.r0, immediate: Int32(XDPAction.drop.rawValue)),
        .store(.word, .r0, to: .r9, offset: action),
        .add(.r9, immediate: stride), .move(.r1, .r9),
        .load(.doubleWord, .r2, from: .r10, offset: -8),
        .jump(.jlt, .r9, .r2, offset: -9),
        .load(.doubleWord, .r0, from: .r10, offset: -16), .exit,
      ])
    let capacity = 128
    var outcomes: [EngineKind: Result<UInt64, ExecutionError>] = [:]
    for engine in EngineKind.allCases {
      let machine = try Machine(configuration: MachineConfiguration(engine: engine))
      let prepared = try machine.prepare(program, form: .batch)
      if engine == .jit {
        let cursors = RecordCursors(slots: prepared.slots, count: prepared.count + 1)
        #expect(cursors.endChecks == [14: 9])
      }
      let region = try machine.addressSpace.map(length: capacity * Int(stride), name: "records")
      _ = try machine.addressSpace.reserve(length: 4096, name: "past the records")
      let start = UInt64(region.start)
      let past = start + UInt64(capacity) * UInt64(stride) + UInt64(action)
      let outcome = Self.run(machine, prepared, r1: start, r2: 4)
      outcomes[engine] = outcome
      guard case .failure(.memoryFault(_, let address, 4, true)) = outcome else {
        Issue.record("\(engine): \(outcome)")
        continue
      }
      #expect(address == past, "\(engine)")
      #expect(Self.verdict(machine, at: past - UInt64(stride)) == XDPAction.drop.rawValue)
    }
    #expect(outcomes[.jit] == outcomes[.interpreter])
  }

  /// A machine in `engine` with `records` records mapped and the page
  /// after them reserved but unreachable; the batch form of `verdict`.
  static func setUp(_ engine: EngineKind, records: Int, verdict: XDPAction) throws
    -> (Machine, PreparedProgram, start: UInt64)
  {
    let machine = try Machine(configuration: MachineConfiguration(engine: engine))
    let batch = try BatchTrampoline().rewrite(Self.constant(verdict))
    let prepared = try machine.prepare(batch.program, form: .batch)
    let stride = Int(XDPContextLayout.engine.stride)
    let region = try machine.addressSpace.map(length: records * stride, name: "records")
    _ = try machine.addressSpace.reserve(length: 4096, name: "past the records")
    return (machine, prepared, UInt64(region.start))
  }

  /// Each engine's outcome for one batch run: R0, or the error.
  static func run(_ machine: Machine, _ program: PreparedProgram, r1: UInt64, r2: UInt64)
    -> Result<UInt64, ExecutionError>
  {
    Result { () throws(ExecutionError) in try machine.run(program, r1: r1, r2: r2) }
  }

  static func verdict(_ machine: Machine, at address: UInt64) -> UInt32 {
    machine.addressSpace.hostMemory(at: UInt32(address)).loadUnaligned(as: UInt32.self)
  }

  /// A full batch: every record's verdict, the last one's too, in both
  /// engines; nothing written past the records.
  @Test(arguments: EngineKind.allCases)
  func everyRecordOfAFullBatchGetsItsVerdict(_ engine: EngineKind) throws {
    let count = 128  // one page of 32-byte records
    let (machine, program, start) = try Self.setUp(engine, records: count, verdict: .tx)
    let action = UInt64(XDPContextLayout.engine.action)
    #expect(try Self.run(machine, program, r1: start, r2: UInt64(count)).get() == UInt64(count))
    let verdicts = (0..<count).map { Self.verdict(machine, at: start + UInt64($0) * 32 + action) }
    #expect(verdicts == Array(repeating: XDPAction.tx.rawValue, count: count))
    #expect(Self.verdict(machine, at: start + UInt64(count) * 32 + action) == 0)
  }

  /// A count past the records' capacity stores every verdict up to the
  /// last record and faults at the first store past them, in the JIT as
  /// in the interpreter, and the bytes there stay untouched: a plain store
  /// without the guard would write them and return.
  @Test(arguments: [129, 1 << 20, Int(Int32.max)])
  func aCountPastTheRecordsFaultsAtTheFirstStorePastThem(_ count: Int) throws {
    let capacity = 128
    let action = UInt64(XDPContextLayout.engine.action)
    var outcomes: [EngineKind: Result<UInt64, ExecutionError>] = [:]
    for engine in EngineKind.allCases {
      let (machine, program, start) = try Self.setUp(engine, records: capacity, verdict: .drop)
      let past = start + UInt64(capacity) * 32 + action
      let outcome = Self.run(machine, program, r1: start, r2: UInt64(count))
      outcomes[engine] = outcome
      guard case .failure(.memoryFault(_, let address, 4, true)) = outcome else {
        Issue.record("\(engine): \(outcome)")
        continue
      }
      #expect(address == past, "\(engine)")
      #expect(Self.verdict(machine, at: past) == 0, "\(engine)")
      #expect(Self.verdict(machine, at: past - 32) == XDPAction.drop.rawValue, "\(engine)")
    }
    #expect(outcomes[.jit] == outcomes[.interpreter])
  }

  /// First records the guard cannot place, relative to the records'
  /// start: off a record boundary (the last store lands past the
  /// records), past the table's 32-bit range, at the top of the 64-bit
  /// range, and one record below the records (in the region before them,
  /// which the checked stores may write): each runs checked, and the
  /// engines agree on the fault or the result.
  @Test(
    arguments: [
      (Int64(8), true), (1 << 40, true), (Int64.min, true), (-32, nil),
    ] as [(Int64, Bool?)])
  func aBogusFirstRecordRunsChecked(_ offset: Int64, faults: Bool?) throws {
    var outcomes: [EngineKind: Result<UInt64, ExecutionError>] = [:]
    for engine in EngineKind.allCases {
      let (machine, program, start) = try Self.setUp(engine, records: 128, verdict: .pass)
      outcomes[engine] = Self.run(
        machine, program, r1: start &+ UInt64(bitPattern: offset), r2: 128)
    }
    #expect(outcomes[.jit] == outcomes[.interpreter])
    guard let faults else { return }  // whatever the region before allows
    if case .failure(.memoryFault) = outcomes[.jit] {
      #expect(faults)
    } else {
      #expect(!faults, "\(String(describing: outcomes[.jit]))")
    }
  }
}
