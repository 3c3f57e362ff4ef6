import BPF
import TestSupport
import Testing

@testable import Engine

/// Issue 22: tail calls in the JIT are a PROG_ARRAY lookup and a jump into
/// the target's code, with the interpreter's results, instruction counts,
/// budget errors and tail-call limit, and no call into Swift once the
/// target is compiled.
@Suite struct NativeTailCallTests {
  static let maps = [
    MapDefinition(name: "jmp", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 4),
    MapDefinition(name: "flows", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4),
  ]

  /// `r6 += step; tail_call(ctx, jmp, r3 = slot); r0 = r6`.
  static func caller(slot: Int32, step: Int32 = 1, map: Int = 0) -> [Instruction] {
    [.add(.r6, immediate: step)] + Instruction.map(.r2, map) + [
      .move(.r3, immediate: slot), .helper(.tailCall), .move(.r0, .r6), .exit,
    ]
  }

  /// One engine's machine with `programs` prepared and placed at their slots.
  struct Setup {
    let machine: Machine
    let programs: [PreparedProgram]

    init(
      _ engine: EngineKind, _ programs: [[Instruction]], slots: [Int: Int], budget: Int = 1_000_000
    ) throws {
      machine = try Machine(
        maps: NativeTailCallTests.maps,
        configuration: MachineConfiguration(instructionBudget: budget, engine: engine))
      let machine = machine
      self.programs = try programs.enumerated().map {
        try machine.prepare(instructions: $0.element, name: "p\($0.offset)")
      }
      for (slot, program) in slots {
        try machine.maps[0].setProgram(self.programs[program], at: UInt32(slot))
      }
    }

    /// R0 or the error, and the instruction count.
    func run(_ program: Int = 0) -> (String, Int) {
      let outcome: String
      do {
        outcome = "R0 = \(try machine.run(programs[program], r1: 0))"
      } catch {
        outcome = "\(error)"
      }
      return (outcome, machine.lastInstructionCount)
    }
  }

  /// Both engines on the same programs and slots: the same outcome and
  /// count; the JIT's calls into Swift, after a first run that compiled
  /// every target, are none.
  static func expectAlike(
    _ programs: [[Instruction]], slots: [Int: Int], budget: Int = 1_000_000,
    _ comment: Comment? = nil, swiftCallsPerRun: Int = 0
  ) throws -> String {
    let interpreted = try Setup(.interpreter, programs, slots: slots, budget: budget).run()
    let setup = try Setup(.jit, programs, slots: slots, budget: budget)
    _ = setup.run()
    let before = setup.machine.jit.swiftCalls
    let compiled = setup.run()
    #expect(setup.machine.engineFallback == nil)
    #expect(compiled.0 == interpreted.0, comment)
    #expect(compiled.1 == interpreted.1, comment)
    #expect(
      setup.machine.jit.swiftCalls == before + swiftCallsPerRun,
      "calls into Swift: \(String(describing: comment))")
    return compiled.0
  }

  @Test func hitsMissesAndTheLimitAgree() throws {
    let target: [Instruction] = [.move(.r0, immediate: 3), .exit]
    // A target: R0 = 3; an empty slot and indices past max_entries
    // (also as the 32-bit index 0xffffffff) fall through: R0 = R6 = 1.
    #expect(try Self.expectAlike([Self.caller(slot: 0), target], slots: [0: 1]) == "R0 = 3")
    for slot: Int32 in [1, 4, 9, -1] {
      #expect(
        try Self.expectAlike([Self.caller(slot: slot), target], slots: [0: 1], "slot \(slot)")
          == "R0 = 1")
    }
    // A program that tail-calls itself: 33 calls succeed, then it falls through.
    #expect(try Self.expectAlike([Self.caller(slot: 2)], slots: [2: 0]) == "R0 = 34")
    // Two programs calling each other through two slots.
    #expect(
      try Self.expectAlike(
        [Self.caller(slot: 3, step: 1), Self.caller(slot: 0, step: 100)], slots: [0: 0, 3: 1])
        == "R0 = 1717")
  }

  /// The budget is checked at each tail call as in the interpreter: every
  /// budget around the chain's length gives the same error or result at
  /// the same instruction.
  @Test func theBudgetStopsAChainAtTheSameInstruction() throws {
    let chain = [Self.caller(slot: 2)]
    let interpreted = try Setup(.interpreter, chain, slots: [2: 0]).run()
    #expect(interpreted.1 == 34 * 4 + 2)
    for budget in [1, 2, 3, 4, 5, 40, 100, 135, 136, 137, 138, 139] {
      let outcome = try Self.expectAlike(chain, slots: [2: 0], budget: budget, "budget \(budget)")
      #expect(outcome.contains("budget") == (budget <= 136), "budget \(budget): \(outcome)")
    }
  }

  /// R2 no PROG_ARRAY (a hash map, a number): the engine's error, through
  /// the call into Swift, at the same instruction.
  @Test func aHandleThatIsNoProgramArrayIsRefusedAlike() throws {
    let hash = try Self.expectAlike(
      [Self.caller(slot: 0, map: 1)], slots: [:], swiftCallsPerRun: 1)
    #expect(hash.contains("instruction 4") && hash.contains("prog_array"), "\(hash)")
    let number: [Instruction] = [
      .move(.r2, immediate: 7), .move(.r3, immediate: 0), .helper(.tailCall), .exit,
    ]
    let refused = try Self.expectAlike([number], slots: [:], swiftCallsPerRun: 1)
    #expect(refused.contains("instruction 2") && refused.contains("prog_array"), "\(refused)")
  }

  /// An update of the array from outside is seen at the next call: a slot
  /// set, replaced, and cleared between runs.
  @Test func updatesFromOutsideAreSeenAtTheNextCall() throws {
    let programs: [[Instruction]] = [
      Self.caller(slot: 1), [.move(.r0, immediate: 10), .exit], [.move(.r0, immediate: 20), .exit],
    ]
    let setup = try Setup(.jit, programs, slots: [1: 1])
    #expect(setup.run().0 == "R0 = 10")
    let afterCompile = setup.machine.jit.swiftCalls
    #expect(setup.run().0 == "R0 = 10")
    #expect(setup.machine.jit.swiftCalls == afterCompile)
    try setup.machine.maps[0].setProgram(setup.programs[2], at: 1)
    #expect(setup.run().0 == "R0 = 20")
    try setup.machine.maps[0].setProgram(nil, at: 1)
    #expect(setup.run().0 == "R0 = 1")
    try setup.machine.maps[0].setProgram(setup.programs[1], at: 1)
    #expect(setup.run().0 == "R0 = 10")
  }

  /// As the kernel's JIT, each entry of the code starts its own count of
  /// tail calls: a driver calling the code again and again (the bench's
  /// loop) sees 33 tail calls on every call, not 33 in all.
  @Test func everyEntryCountsItsOwnTailCalls() throws {
    let setup = try Setup(.jit, [Self.caller(slot: 2)], slots: [2: 0])
    let code = try #require(setup.machine.compiledCode(for: setup.programs[0]))
    var results: [UInt64] = []
    try setup.machine.withNativeRun { context in
      for _ in 0..<3 { results.append(code.entry(context, 0, 0)) }
    }
    #expect(results == [34, 34, 34])
  }

  /// Tail calls refused in batch runs: the engine's error in both engines.
  @Test func refusedTailCallsAreTheEnginesError() throws {
    var outcomes: [String] = []
    for engine in EngineKind.allCases {
      let setup = try Setup(engine, [Self.caller(slot: 0), [.exit]], slots: [0: 1])
      setup.machine.refusesTailCalls = true
      outcomes.append(setup.run().0)
    }
    #expect(outcomes[0] == outcomes[1])
    #expect(outcomes[0].contains("batch mode"), "\(outcomes[0])")
  }

  /// Generated chains: programs that add a constant to R6 and tail-call
  /// a slot picked from R6's low bits, over arrays filled at random, with
  /// random budgets: the same outcomes and counts in both engines.
  @Test func generatedChainsRunAlike() throws {
    var random = SeededRandom(state: 0x7a11)
    for case_ in 0..<200 {
      let count = Int(random.next() % 4) + 1
      var programs: [[Instruction]] = []
      for _ in 0..<count {
        let step = Int32(random.next() % 7) + 1
        let mask = Int32(random.next() % 8)
        programs.append(
          [.add(.r6, immediate: step), .move(.r3, .r6), .arithmetic(.and, .r3, immediate: mask)]
            + Instruction.map(.r2, 0) + [.helper(.tailCall), .move(.r0, .r6), .exit])
      }
      var slots: [Int: Int] = [:]
      for slot in 0..<4 where random.next() % 4 != 0 {
        slots[slot] = Int(random.next() % UInt64(count))
      }
      let budget = random.next() % 3 == 0 ? Int(random.next() % 200) + 1 : 1_000_000
      _ = try Self.expectAlike(programs, slots: slots, budget: budget, "case \(case_)")
    }
  }
}
