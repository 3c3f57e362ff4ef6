import BPF
import Testing

@testable import Engine

/// Bad programs stop with the same error, at the same instruction count, in
/// both engines; a JIT run that faults leaves the process running.
@Suite struct JITTests {
  /// The result (or error) and instruction count of a run in `engine`.
  static func outcome(
    _ instructions: [Instruction], engine: EngineKind, maps: [MapDefinition] = [],
    budget: Int = 10_000, r1: (Machine) throws -> UInt64 = { _ in 0 }
  ) throws -> (String, Int) {
    let machine = try Machine(
      maps: maps, configuration: MachineConfiguration(instructionBudget: budget, engine: engine))
    let program = try machine.prepare(instructions: instructions)
    let argument = try r1(machine)
    let result: String
    do {
      result = "R0 = \(try machine.run(program, r1: argument))"
    } catch {
      result = "\(error)"
    }
    if engine == .jit { #expect(machine.engineFallback == nil) }
    return (result, machine.lastInstructionCount)
  }

  static func expectAlike(
    _ instructions: [Instruction], maps: [MapDefinition] = [], budget: Int = 10_000,
    outcome expected: String, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let interpreted = try outcome(instructions, engine: .interpreter, maps: maps, budget: budget)
    let compiled = try outcome(instructions, engine: .jit, maps: maps, budget: budget)
    #expect(compiled == interpreted, sourceLocation: sourceLocation)
    #expect(compiled.0 == expected, sourceLocation: sourceLocation)
  }

  @Test func outOfBoundsAccessStopsTheRunAndNamesTheInstruction() throws {
    // r2 = 0x12345678; r0 = *(u32 *)(r2 + 0): no region there.
    let load: [Instruction] = [
      .move(.r0, immediate: 1), .move(.r2, immediate: 0x1234_5678),
      .load(.word, .r0, from: .r2, offset: 0), .exit,
    ]
    try Self.expectAlike(
      load, outcome: "instruction 2: read of 4 bytes at 0x12345678 is out of bounds")
    // A store just past the end of the stack frame, and a NULL read.
    try Self.expectAlike(
      [.store(.doubleWord, immediate: 1, to: .r10, offset: -4), .exit],
      outcome: "instruction 0: write of 8 bytes at 0x11fc is out of bounds")
    try Self.expectAlike(
      [.load(.byte, .r0, from: .r1, offset: 0), .exit],
      outcome: "instruction 0: read of 1 bytes at 0x0 is out of bounds")
    // The process is still here and the machine still runs programs.
    #expect(try Self.outcome([.move(.r0, immediate: 5), .exit], engine: .jit).0 == "R0 = 5")
  }

  @Test func divisionEdgeCasesMatch() throws {
    for operation in [ArithmeticOperation.div, .mod] {
      for wide in [true, false] {
        for (dividend, divisor) in [(7, 0), (Int32.min, -1), (-7, 2), (7, -2), (-1, 3)]
          as [(Int32, Int32)]
        {
          for signed in [false, true] {
            var divide = Instruction.arithmetic(operation, .r0, .r2, wide: wide)
            divide.offset = signed ? 1 : 0
            let program: [Instruction] = [
              .move(.r0, immediate: dividend), .move(.r2, immediate: divisor), divide, .exit,
            ]
            let a = try Self.outcome(program, engine: .interpreter)
            let b = try Self.outcome(program, engine: .jit)
            #expect(a == b, "\(operation) wide \(wide) signed \(signed) \(dividend) / \(divisor)")
          }
        }
      }
    }
  }

  @Test func runawayLoopsStopAtTheSameInstruction() throws {
    try Self.expectAlike(
      [.add(.r0, immediate: 1), .jump(offset: -2)], budget: 1000,
      outcome: "instruction 1: instruction budget of 1000 exhausted (runaway loop?)")
    try Self.expectAlike(
      [.add(.r0, immediate: 1), .jump(.jne, .r0, immediate: 0, offset: -2), .exit], budget: 777,
      outcome: "instruction 1: instruction budget of 777 exhausted (runaway loop?)")
    // Unbounded recursion hits the frame limit.
    try Self.expectAlike(
      [.call(local: -1), .exit], outcome: "instruction 0: call depth exceeds 8 frames")
  }

  @Test func helperMisuseMatches() throws {
    let array = MapDefinition(name: "a", type: .array, keySize: 4, valueSize: 8, maxEntries: 2)
    try Self.expectAlike(
      [.move(.r1, immediate: 9), .helper(.mapLookupElement), .exit], maps: [array],
      outcome: "instruction 1: bpf_map_lookup_elem#1: R1 (0x9) is not a map")
    try Self.expectAlike(
      Instruction.map(.r1, 0) + [.move(.r2, immediate: 64), .helper(.mapLookupElement), .exit],
      maps: [array], outcome: "instruction 3: read of 4 bytes at 0x40 is out of bounds")
  }

  @Test func callxCallsTheHelperInItsRegister() throws {
    let callx = Instruction(opcode: Opcode.callRegister, dst: .r6)
    try Self.expectAlike(
      [.move(.r6, immediate: Int32(HelperFunction.getSMPProcessorID.rawValue)), callx, .exit],
      outcome: "R0 = 0")
    try Self.expectAlike(
      [.move(.r6, immediate: 999), callx, .exit],
      outcome: "instruction 1: helper#999: not implemented")
  }

  @Test func tailCallsRunInTheJIT() throws {
    let programs = MapDefinition(
      name: "jmp", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 4)
    for engine in EngineKind.allCases {
      let machine = try Machine(
        maps: [programs], configuration: MachineConfiguration(engine: engine))
      let counting = try machine.prepare(
        instructions: [.add(.r6, immediate: 1)] + Instruction.map(.r2, 0) + [
          .move(.r3, immediate: 2), .helper(.tailCall), .move(.r0, .r6), .exit,
        ])
      try machine.maps[0].setProgram(counting, at: 2)
      #expect(try machine.run(counting, r1: 0) == 34, "\(engine)")
      #expect(machine.engineFallback == nil)
    }
  }

  /// What a caller of ``NativeCode`` relies on: a copy of the code runs
  /// where it is mapped, takes R1 and R2 from the register file the
  /// context block names, returns R0, and a fault is thrown by
  /// `withNativeRun` naming the instruction, as a run would.
  @Test func nativeCodeRunsFromACopy() throws {
    typealias Entry = @convention(c) (UnsafeMutableRawPointer, UInt64, UInt64) -> UInt64
    let machine = try Machine(configuration: MachineConfiguration(engine: .jit))
    let sum = try machine.prepare(instructions: [
      .move(.r0, .r1), .arithmetic(.add, .r0, .r2), .exit,
    ])
    let fault = try machine.prepare(instructions: [
      .move(.r0, immediate: 0), .load(.word, .r0, from: .r1, offset: 0), .exit,
    ])
    let outOfBounds = "instruction 1: read of 4 bytes at 0x28 is out of bounds"
    for (program, expected) in [(sum, "R0 = 42"), (fault, outOfBounds)] {
      let copy = try ExecutableMemory(try machine.nativeCode(for: program).bytes)
      let entry = unsafeBitCast(copy.base, to: Entry.self)
      var result: UInt64 = 0
      let outcome: String
      do {
        try machine.withNativeRun { context in
          result = entry(context, 40, 2)
        }
        outcome = "R0 = \(result)"
      } catch {
        outcome = "\(error)"
      }
      #expect(outcome == expected)
    }
  }
}
