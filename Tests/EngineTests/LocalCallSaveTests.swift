import BPF
import Testing

@testable import Engine

/// Issue 22 (branch `jitcode`): a bpf-to-bpf call site in the JIT pushes
/// R10 and only those of R6 - R9 its callee's code may write, and an exit
/// only callees reach returns with no test of the depth (``LocalCalls``).
/// R6 - R9 come back from every call as they were before it, in both
/// engines, whatever path the callee's writes sit on.
@Suite struct LocalCallSaveTests {
  /// `r6 = 6, r7 = 7, r8 = 8, r9 = 9`, a call to the slot right after
  /// this part (`callee` follows), then R0 = the four as decimal digits.
  static func caller(then callee: [Instruction]) -> [Instruction] {
    [
      .move(.r6, immediate: 6), .move(.r7, immediate: 7), .move(.r8, immediate: 8),
      .move(.r9, immediate: 9), .call(local: 8),
      .move(.r0, .r6), .arithmetic(.mul, .r0, immediate: 10), .arithmetic(.add, .r0, .r7),
      .arithmetic(.mul, .r0, immediate: 10), .arithmetic(.add, .r0, .r8),
      .arithmetic(.mul, .r0, immediate: 10), .arithmetic(.add, .r0, .r9), .exit,
    ] + callee
  }

  /// Each engine's result and instruction count for `instructions`,
  /// run with R1 = 0.
  static func outcomes(
    _ instructions: [Instruction], maps: [MapDefinition] = [],
    place: (Machine, PreparedProgram) throws -> Void = { _, _ in }
  ) throws -> [EngineKind: (UInt64, Int)] {
    var outcomes: [EngineKind: (UInt64, Int)] = [:]
    for engine in EngineKind.allCases {
      let machine = try Machine(maps: maps, configuration: MachineConfiguration(engine: engine))
      let program = try machine.prepare(instructions: instructions)
      try place(machine, program)
      let result = try machine.run(program, r1: 0)
      if engine == .jit { #expect(machine.engineFallback == nil) }
      outcomes[engine] = (result, machine.lastInstructionCount)
    }
    return outcomes
  }

  /// The callee writes R8 only behind a taken conditional jump, R7 only
  /// behind a `goto` over an `exit`, and R9 only after an `ld_imm64` (two
  /// slots); it calls a second callee that writes R6. A pass that missed
  /// any of those paths would leave the register out of the call's saves,
  /// and the caller would read 5, 1, 3 or 4 in its place.
  @Test func registersWrittenOnEveryPathOfTheCalleeComeBack() throws {
    let callee: [Instruction] =
      [
        .move(.r0, immediate: 0),
        .jump(.jeq, .r1, immediate: 0, offset: 2),  // R1 is 0: taken
        .move(.r0, immediate: 1), .exit,
        .move(.r8, immediate: 5), .jump(offset: 1), .exit,
        .move(.r7, immediate: 1),
      ] + Instruction.loadImmediate64(.r0, 0x1_0000_0000) + [
        .move(.r9, immediate: 3), .call(local: 1), .exit,
        // The second callee.
        .move(.r6, immediate: 4), .move(.r0, immediate: 0), .exit,
      ]
    let outcomes = try Self.outcomes(Self.caller(then: callee))
    #expect(outcomes[.interpreter]?.0 == 6789)
    #expect(outcomes[.jit]?.0 == 6789)
    #expect(outcomes[.jit]?.1 == outcomes[.interpreter]?.1)
    #expect(outcomes[.jit]?.1 == 25)
  }

  /// A callee that names none of R6 - R9, called three times in a row
  /// (its call sites push R10 alone, which keeps the stack's alignment),
  /// and that calls a helper in Swift from that frame.
  @Test func aCalleeThatWritesNoneOfThemLeavesThemAsTheyWere() throws {
    let callee: [Instruction] = [
      .move(.r1, immediate: 2), .arithmetic(.add, .r1, .r1),
      .helper(.ktimeGetNanoseconds), .move(.r0, immediate: 0), .exit,
    ]
    var program = Self.caller(then: callee)
    // Two more calls before the digits (each to the callee, 8 slots on).
    program.insert(contentsOf: [.call(local: 9), .call(local: 8)], at: 5)
    program[4] = .call(local: 10)
    let outcomes = try Self.outcomes(program)
    #expect(outcomes[.interpreter]?.0 == 6789)
    #expect(outcomes[.jit]?.0 == 6789)
    #expect(outcomes[.jit]?.1 == outcomes[.interpreter]?.1)
  }

  /// A callee that tail calls: the target writes all of R6 - R9 and
  /// returns through the callee's call site, which must have saved them
  /// all though the callee's own code names none.
  @Test func aCalleeThatTailCallsSavesAllFour() throws {
    let programs = MapDefinition(
      name: "jmp", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 2)
    let callee: [Instruction] =
      Instruction.map(.r2, 0) + [
        .move(.r3, immediate: 1), .helper(.tailCall), .move(.r0, immediate: 0), .exit,
      ]
    let target: [Instruction] = [
      .move(.r6, immediate: 1), .move(.r7, immediate: 2), .move(.r8, immediate: 3),
      .move(.r9, immediate: 4), .move(.r0, immediate: 0), .exit,
    ]
    let outcomes = try Self.outcomes(Self.caller(then: callee), maps: [programs]) {
      machine, _ in
      try machine.maps[0].setProgram(machine.prepare(instructions: target), at: 1)
    }
    #expect(outcomes[.interpreter]?.0 == outcomes[.jit]?.0)
    #expect(outcomes[.jit]?.1 == outcomes[.interpreter]?.1)
    #expect(outcomes[.jit]?.0 == 6789)
  }

  /// An exit that both a callee and the program's entry reach (the code
  /// after the call falls into the callee) leaves the run at depth 0: a
  /// bare return there would leave the JIT's code for its caller's.
  @Test func anExitTheEntryAlsoReachesStillEndsTheRun() throws {
    let program: [Instruction] = [
      .move(.r0, immediate: 0), .call(local: 1), .add(.r0, immediate: 10),
      .add(.r0, immediate: 1), .exit,
    ]
    let outcomes = try Self.outcomes(program)
    #expect(outcomes[.interpreter]?.0 == 12)
    #expect(outcomes[.jit]?.0 == 12)
    #expect(outcomes[.jit]?.1 == outcomes[.interpreter]?.1)
    #expect(outcomes[.jit]?.1 == 7)
  }
}
