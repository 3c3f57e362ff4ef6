import BPF
import Testing

@testable import Engine

/// The JIT keeps the instruction count's lag along fall-throughs and adds
/// it where paths join, on cold edges out of line, and wherever the count
/// is read (``CountingPlan``). Each program here takes each kind of edge
/// both ways; the JIT's result, error and instruction count must be the
/// interpreter's, and the count the one worked out by hand.
@Suite struct InstructionCountTests {
  /// The outcome in both engines with `r1` as R1; they must agree.
  static func alike(
    _ instructions: [Instruction], r1: UInt64, budget: Int = 10_000,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> (String, Int) {
    let interpreted = try JITTests.outcome(
      instructions, engine: .interpreter, budget: budget, r1: { _ in r1 })
    let compiled = try JITTests.outcome(
      instructions, engine: .jit, budget: budget, r1: { _ in r1 })
    #expect(compiled == interpreted, "R1 = \(r1)", sourceLocation: sourceLocation)
    return compiled
  }

  static func plan(_ instructions: [Instruction]) throws -> CountingPlan {
    let machine = try Machine(configuration: MachineConfiguration(engine: .interpreter))
    let program = try machine.prepare(instructions: instructions)
    return CountingPlan(slots: program.slots, count: program.count + 1)
  }

  @Test func aForwardJumpToAJoinAndToAnExitCountsBothWays() throws {
    let program: [Instruction] = [
      .move(.r0, immediate: 0),
      .jump(.jeq, .r1, immediate: 0, offset: 2),  // to the join, slot 4
      .add(.r0, immediate: 1), .add(.r0, immediate: 2),
      .add(.r0, immediate: 4),
      .jump(.jeq, .r1, immediate: 1, offset: 1),  // to the exit, slot 7
      .add(.r0, immediate: 8),
      .exit,
    ]
    #expect(try Self.plan(program).coldJumps.isEmpty)
    #expect(try Self.alike(program, r1: 0) == ("R0 = 12", 6))
    #expect(try Self.alike(program, r1: 1) == ("R0 = 7", 7))
    #expect(try Self.alike(program, r1: 2) == ("R0 = 15", 8))
  }

  @Test func coldJumpsReachTheirJoinThroughTheirOwnCorrection() throws {
    // Three bounds-check-like jumps (`if r1 > r2`), two to one join with
    // different counts behind them, one to an exit.
    let program: [Instruction] = [
      .move(.r0, immediate: 0), .move(.r2, immediate: 20),
      .jump(.jgt, .r1, .r2, offset: 4),  // slot 2, to 7
      .add(.r0, immediate: 1), .move(.r2, immediate: 10),
      .jump(.jgt, .r1, .r2, offset: 1),  // slot 5, to 7
      .add(.r0, immediate: 2),
      .add(.r0, immediate: 4), .move(.r2, immediate: 30),
      .jump(.jgt, .r1, .r2, offset: 1),  // slot 9, to the exit
      .add(.r0, immediate: 8),
      .exit,
    ]
    #expect(try Self.plan(program).coldJumps == [2, 5, 9])
    #expect(try Self.alike(program, r1: 5) == ("R0 = 15", 12))
    #expect(try Self.alike(program, r1: 15) == ("R0 = 13", 11))
    #expect(try Self.alike(program, r1: 25) == ("R0 = 12", 8))
    #expect(try Self.alike(program, r1: 35) == ("R0 = 4", 7))
  }

  @Test func aTargetOnlyOneJumpReachesStartsWithItsCount() throws {
    let program: [Instruction] = [
      .move(.r0, immediate: 0), .add(.r0, immediate: 1),
      .jump(.jeq, .r1, immediate: 0, offset: 3),  // to slot 6, which nothing else reaches
      .move(.r0, immediate: 7), .add(.r0, immediate: 1), .exit,
      .add(.r0, immediate: 2), .exit,
    ]
    #expect(try Self.alike(program, r1: 0) == ("R0 = 3", 5))
    #expect(try Self.alike(program, r1: 1) == ("R0 = 8", 6))
  }

  @Test func aJumpToATargetAnotherJumpFixedCorrectsItsCountEvenDownwards() throws {
    // The first jump to slot 8 fixes its count's lag at 4; the second
    // comes after a helper call made the count exact, with a lag of 1.
    let program: [Instruction] = [
      .move(.r0, immediate: 0), .add(.r0, immediate: 1), .add(.r0, immediate: 1),
      .jump(.jeq, .r1, immediate: 0, offset: 4),
      .helper(.getSMPProcessorID),
      .jump(.jeq, .r1, immediate: 1, offset: 2),
      .add(.r0, immediate: 7), .add(.r0, immediate: 1),
      .exit,
    ]
    #expect(try Self.alike(program, r1: 0) == ("R0 = 2", 5))
    #expect(try Self.alike(program, r1: 1) == ("R0 = 0", 7))
    #expect(try Self.alike(program, r1: 2) == ("R0 = 8", 9))
  }

  @Test func aFaultRightAfterAJumpCountsWhatRanOnEitherEdge() throws {
    // Cold (`>`) and not (`==`): a read at R1 faults on the fall-through,
    // and at the target.
    for compare in [
      Instruction.jump(.jgt, .r1, .r2, offset: 2), .jump(.jeq, .r1, immediate: 20, offset: 2),
    ] {
      let program: [Instruction] = [
        .move(.r0, immediate: 0), .move(.r2, immediate: 10), compare,
        .load(.byte, .r3, from: .r1, offset: 0), .move(.r0, immediate: 1),
        .load(.byte, .r3, from: .r1, offset: 0), .exit,
      ]
      #expect(
        try Self.alike(program, r1: 5) == (
          "instruction 3: read of 1 bytes at 0x5 is out of bounds", 4
        ))
      #expect(
        try Self.alike(program, r1: 20)
          == ("instruction 5: read of 1 bytes at 0x14 is out of bounds", 4))
    }
  }

  /// `r0` counts to R1, `r2` counts the odd values on the way; a forward
  /// jump in the loop's body skips the odd count.
  static let loop: [Instruction] = [
    .move(.r0, immediate: 0), .move(.r2, immediate: 0),
    .add(.r0, immediate: 1),  // slot 2: the loop's head
    .move(.r3, .r0), .arithmetic(.and, .r3, immediate: 1),
    .jump(.jeq, .r3, immediate: 0, offset: 1),
    .add(.r2, immediate: 1),
    .jump(.jlt, .r0, .r1, offset: -6),  // slot 7, back to 2
    .move(.r0, .r2), .exit,
  ]

  @Test func aLoopWithAForwardJumpInsideCountsEachPassAndStopsAtTheBudget() throws {
    #expect(try Self.plan(Self.loop).exactEntries[2])
    // Five odd passes of 6 instructions, five even of 5, 2 before, 2 after.
    #expect(try Self.alike(Self.loop, r1: 10) == ("R0 = 5", 59))
    for budget in [40, 41, 42, 43, 44, 45] {
      let outcome = try Self.alike(Self.loop, r1: 1000, budget: budget)
      #expect(
        outcome.0 == "instruction 7: instruction budget of \(budget) exhausted (runaway loop?)")
    }
  }

  @Test func aBpfToBpfCallCountsTheCalleesEdges() throws {
    let program: [Instruction] = [
      .move(.r0, immediate: 0), .move(.r2, immediate: 10),
      .call(local: 3),  // slot 2, to 6
      .jump(.jeq, .r0, immediate: 3, offset: 1),
      .add(.r0, immediate: 10),
      .exit,
      .move(.r0, immediate: 1),  // slot 6: the callee
      .jump(.jgt, .r1, .r2, offset: 2),  // cold, to the callee's exit
      .move(.r0, immediate: 3), .add(.r0, immediate: 0),
      .exit,
    ]
    let plan = try Self.plan(program)
    #expect(plan.coldJumps == [7] && plan.exactEntries[6])
    #expect(try Self.alike(program, r1: 5) == ("R0 = 3", 10))
    #expect(try Self.alike(program, r1: 20) == ("R0 = 11", 9))
  }

  /// A hot jump before the parser, a cold one among its proven accesses.
  static let parser: [Instruction] =
    [.jump(.jeq, .r1, immediate: 0, offset: 1), .move(.r5, immediate: 100)]
    + PacketRangeTests.parser(
      bytes: 40,
      accesses: [
        .load(.byte, .r0, from: .r2, offset: 0),
        .jump(.jgt, .r0, .r5, offset: 1),
        .add(.r0, immediate: 100),
      ], tail: [.exit])

  @Test func anExitToTheCheckedCopyCountsWhatTheProvenCopyRan() throws {
    func outcome(_ engine: EngineKind, data: Int64, end: Int64) throws -> (String, Int) {
      try PacketRangeTests.outcome(Self.parser, engine: engine, data: data, end: end)
    }
    // data 80 bytes into the 96-byte region: the guard at slot 7 sends
    // the run to the checked copy; the byte there is 561 & 0xff = 49,
    // not above 100.
    let checked = try outcome(.jit, data: 80, end: 200)
    #expect(checked == (try outcome(.interpreter, data: 80, end: 200)))
    #expect(checked == ("R0 = 149", 12))
    // data 32: the proven copy all the way; 225 is above 100.
    let proven = try outcome(.jit, data: 32, end: 96)
    #expect(proven == (try outcome(.interpreter, data: 32, end: 96)))
    #expect(proven == ("R0 = 225", 11))
  }
}
