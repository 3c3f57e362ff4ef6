import BPF
import Engine
import Kernel

/// A small interpreter benchmark: how long one instruction takes, measured
/// on a loop of arithmetic, memory and branch instructions (the mix a
/// packet parser executes). Used by `xdpbatch bench`.
public enum InterpreterBench {
  /// One measurement.
  public struct Result: Sendable {
    /// Instructions executed.
    public var instructions: Int
    /// Wall time in nanoseconds.
    public var nanoseconds: Double
    /// Nanoseconds per instruction.
    public var nanosecondsPerInstruction: Double { nanoseconds / Double(max(instructions, 1)) }
  }

  /// Runs the loop `iterations` times (about 10 instructions each).
  ///
  /// With `checkedMemory`, the loop's store and load go through a copy of
  /// R10 that has been through an `or` (the JIT follows copies and constant
  /// offsets of R10, not other arithmetic), so the JIT cannot prove they
  /// stay in the stack frame and checks them against the address space:
  /// the difference is what a check the program does not prove away costs.
  public static func run(
    iterations: Int32 = 2_000_000, engine: EngineKind = .interpreter, checkedMemory: Bool = false
  ) throws -> Result {
    let machine = try Machine(
      configuration: MachineConfiguration(
        instructionBudget: Int(iterations) * 16 + 64, engine: engine))
    let program = try machine.prepare(
      instructions: loop(iterations, base: checkedMemory ? .r5 : .r10), name: "bench")
    _ = try machine.run(program, r1: 0)
    let clock = ContinuousClock()
    let elapsed = try clock.measure { _ = try machine.run(program, r1: 0) }
    return Result(instructions: machine.lastInstructionCount, nanoseconds: elapsed.nanoseconds)
  }

  /// The JIT's compute loop with its memory accesses unchecked and
  /// checked (``run(iterations:engine:checkedMemory:)``), timed in
  /// `rounds` interleaved rounds (``InterleavedRounds``): each form's
  /// fastest round in ns per instruction, and the checked over unchecked
  /// ratio of every round (``RoundRatios``).
  public static func checkedAgainstUnchecked(
    iterations: Int32 = 2_000_000, rounds: Int = 15, engine: EngineKind = .jit
  ) throws -> (unchecked: Double, checked: Double, ratios: RoundRatios?) {
    let forms = try [false, true].map { checked in
      let machine = try Machine(
        configuration: MachineConfiguration(
          instructionBudget: Int(iterations) * 16 + 64, engine: engine))
      let program = try machine.prepare(
        instructions: loop(iterations, base: checked ? .r5 : .r10), name: "bench")
      return (machine, program)
    }
    let clock = ContinuousClock()
    let timings = try InterleavedRounds.measure(forms: 2, rounds: rounds) { index in
      let (machine, program) = forms[index]
      let elapsed = try clock.measure { _ = try machine.run(program, r1: 0) }
      return elapsed.nanoseconds / Double(max(machine.lastInstructionCount, 1))
    }
    return (
      timings[0].min() ?? 0, timings[1].min() ?? 0, RoundRatios(timings[1], over: timings[0])
    )
  }

  /// r1 = n; loop: a few ALU ops, a stack store and load, a compare, a back-edge.
  static func loop(_ iterations: Int32, base: Register = .r10) -> [Instruction] {
    [
      .move(.r5, .r10),
      .arithmetic(.or, .r5, immediate: 0),
      .move(.r1, immediate: iterations),
      .move(.r0, immediate: 0),
      .move(.r3, immediate: 7),
      // loop:
      .add(.r0, immediate: 3),
      .arithmetic(.xor, .r0, .r3),
      .arithmetic(.lsh, .r3, immediate: 1),
      .arithmetic(.and, .r3, immediate: 0xff),
      .store(.doubleWord, .r0, to: base, offset: -8),
      .load(.doubleWord, .r4, from: base, offset: -8),
      .arithmetic(.add, .r0, .r4, wide: false),
      .arithmetic(.sub, .r1, immediate: 1),
      Instruction(opcode: Opcode.jump(.jne, .immediate), dst: .r1, offset: -9),
      .exit,
    ]
  }
}
