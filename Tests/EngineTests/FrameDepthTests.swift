import BPF
import Testing

@testable import Engine

/// Issue 22 (branch `depth`): the JIT proves a program's call depth at
/// compile time (``FrameDepths``) and then keeps no depth count and checks
/// none at a call; where the proof does not hold (recursion, more than
/// eight frames, a callee that tail calls) the code counts the depth as
/// before, and a tail call taken deeper than frame 0 runs code that counts
/// it. Both engines agree on every result, error and instruction count.
@Suite struct FrameDepthTests {
  /// `main` and `functions` more functions, each calling the next: `main`
  /// sets R0 = 0, each function adds 1. With `functions` = 7, eight
  /// frames. The call in function j (1-based) is slot 3j + 1.
  static func chain(_ functions: Int) -> [Instruction] {
    var program: [Instruction] = [.move(.r0, immediate: 0), .call(local: 1), .exit]
    for _ in 1..<functions { program += [.add(.r0, immediate: 1), .call(local: 1), .exit] }
    return program + [.add(.r0, immediate: 1), .exit]
  }

  static let programArray = MapDefinition(
    name: "jmp", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 2)

  struct Outcome {
    var outcome: String
    var count: Int
    let program: PreparedProgram
    var error: ExecutionError?
  }

  /// Per engine: the outcome (R0 or the error) and the instruction count
  /// of running `instructions` (after `place`), and the machine.
  static func outcomes(
    _ instructions: [Instruction], maps: [MapDefinition] = [], budget: Int = 1_000_000,
    place: (Machine) throws -> Void = { _ in }
  ) throws -> [EngineKind: Outcome] {
    var outcomes: [EngineKind: Outcome] = [:]
    for engine in EngineKind.allCases {
      let machine = try Machine(
        maps: maps,
        configuration: MachineConfiguration(instructionBudget: budget, engine: engine))
      let program = try machine.prepare(instructions: instructions)
      try place(machine)
      var outcome = Outcome(outcome: "", count: 0, program: program)
      do {
        outcome.outcome = "R0 = \(try machine.run(program, r1: 0))"
      } catch {
        outcome.outcome = "\(error)"
        outcome.error = error
      }
      if engine == .jit { #expect(machine.engineFallback == nil) }
      outcome.count = machine.lastInstructionCount
      outcomes[engine] = outcome
    }
    return outcomes
  }

  static func proof(_ instructions: [Instruction]) throws -> FrameDepths? {
    let machine = try Machine()
    let program = try machine.prepare(instructions: instructions)
    return FrameDepths(slots: program.slots, count: program.count + 1)
  }

  /// Eight frames of distinct functions are proven, each call and exit
  /// in its frame; a ninth frame, recursion, a function called at two
  /// depths and a callee that tail calls are not.
  @Test func theProofHoldsWhereTheKernelsVerifierBoundsTheDepth() throws {
    let eight = try #require(try Self.proof(Self.chain(7)))
    #expect(eight[1] == 0)
    #expect(eight[2] == 0)
    #expect((1...6).map { eight[3 * $0 + 1] } == Array(1...6))
    #expect(eight[3 * 7 + 1] == 7)  // the last function's exit
    #expect(try Self.proof(Self.chain(8)) == nil)
    #expect(try Self.proof([.call(local: 1), .exit, .call(local: -1), .exit]) == nil)
    // main calls f and g, g calls f: f at depths 1 and 2.
    let twoDepths: [Instruction] = [
      .call(local: 2), .call(local: 3), .exit,
      .move(.r0, immediate: 0), .exit,  // f
      .call(local: -3), .exit,  // g
    ]
    #expect(try Self.proof(twoDepths) == nil)
    let tailCallingCallee: [Instruction] =
      [.call(local: 1), .exit] + Instruction.map(.r2, 0) + [
        .move(.r3, immediate: 0), .helper(.tailCall), .exit,
      ]
    let machine = try Machine(maps: [Self.programArray])
    let program = try machine.prepare(instructions: tailCallingCallee)
    #expect(FrameDepths(slots: program.slots, count: program.count + 1) == nil)
  }

  /// Eight frames run alike, with the JIT's code proven; nine fault at
  /// the call that would make the ninth, alike, with code that counts.
  @Test func eightFramesRunAndTheNinthFaultsAlike() throws {
    let eight = try Self.outcomes(Self.chain(7))
    #expect(eight[.interpreter]?.outcome == "R0 = 7")
    #expect(eight[.jit]?.outcome == "R0 = 7")
    #expect(eight[.jit]?.count == eight[.interpreter]?.count)
    #expect(eight[.jit]?.count == 23)
    #expect(eight[.jit]?.program.compiled?.framesProven == true)
    let nine = try Self.outcomes(Self.chain(8))
    let fault = "\(ExecutionError.callDepthExceeded(index: 22, limit: 8))"
    #expect(nine[.interpreter]?.outcome == fault)
    #expect(nine[.jit]?.outcome == fault)
    #expect(nine[.jit]?.count == nine[.interpreter]?.count)
    #expect(nine[.jit]?.program.compiled?.framesProven == false)
  }

  /// A callee in frame 1 tail calls a program whose own calls are proven
  /// from frame 0: run from frame 1, six nested calls fit, seven make a
  /// ninth frame and fault at the seventh, in both engines; the JIT runs
  /// the target's code compiled to count the depth there.
  @Test func aTailCallFromACalleeRunsTheTargetWithTheDepthCounted() throws {
    let caller: [Instruction] =
      [.call(local: 1), .exit] + Instruction.map(.r2, 0) + [
        .move(.r3, immediate: 1), .helper(.tailCall), .move(.r0, immediate: 99), .exit,
      ]
    for (calls, expected) in [
      (6, "R0 = 6"), (7, "\(ExecutionError.callDepthExceeded(index: 19, limit: 8))"),
    ] {
      var target: PreparedProgram?
      let outcomes = try Self.outcomes(caller, maps: [Self.programArray]) { machine in
        let program = try machine.prepare(instructions: Self.chain(calls), name: "target")
        try machine.maps[0].setProgram(program, at: 1)
        if machine.configuration.engine == .jit { target = program }
        // A run from frame 0 first: its proven code is compiled and published.
        #expect(try machine.run(program, r1: 0) == UInt64(calls))
      }
      #expect(outcomes[.interpreter]?.outcome == expected)
      #expect(outcomes[.jit]?.outcome == expected)
      #expect(outcomes[.jit]?.count == outcomes[.interpreter]?.count)
      #expect(outcomes[.jit]?.program.compiled?.framesProven == false)
      #expect(target?.compiled?.framesProven == true)
      #expect(target?.compiledBelowFrameZero?.framesProven == false)
    }
  }

  /// main calls f twice; f loops three times and calls g. Every budget
  /// from 1 to past the run's count stops both engines at the same
  /// instruction with the same count: at main's calls, f's backward jump
  /// or f's call, in proven code.
  @Test func budgetsStopInsideCalleesWhereTheInterpreterStops() throws {
    let program: [Instruction] = [
      .move(.r0, immediate: 0), .call(local: 2), .call(local: 1), .exit,
      .move(.r2, immediate: 3), .add(.r0, immediate: 1), .add(.r2, immediate: -1),
      .jump(.jne, .r2, immediate: 0, offset: -3), .call(local: 1), .exit,  // f
      .add(.r0, immediate: 10), .exit,  // g
    ]
    var stops: Set<Int> = []
    for budget in 1...33 {
      let outcomes = try Self.outcomes(program, budget: budget)
      #expect(outcomes[.jit]?.outcome == outcomes[.interpreter]?.outcome, "budget \(budget)")
      #expect(outcomes[.jit]?.count == outcomes[.interpreter]?.count, "budget \(budget)")
      #expect(outcomes[.jit]?.program.compiled?.framesProven == true)
      if case .instructionBudgetExceeded(let index, _) = outcomes[.interpreter]?.error {
        stops.insert(index)
      }
      if budget == 33 { #expect(outcomes[.jit]?.outcome == "R0 = 26") }
    }
    #expect(stops == [1, 2, 7, 8])
  }
}
