import BPF
import Engine
import Rewriter

/// The interpreter and the JIT run a generated case, per packet and in
/// its batch form, and must agree on everything a caller can see:
/// verdicts, return values, output frames and metadata, redirect
/// targets, instruction and call counts, trace lines, errors (with their
/// instruction index) and the maps afterwards. For a ``CaseGenerator/Flavor/verifiable``
/// case, the batch form must also give what the per-packet form gives
/// (the rewriter's promise).
public struct EngineOracle: Sendable {
  /// Instructions one run may execute (runaway loops stop here, alike).
  public var instructionBudget: Int
  /// What `get_smp_processor_id` returns, and which per-CPU copy is used.
  public var processorID: UInt32
  /// Per-CPU copies of per-CPU maps.
  public var processorCount: Int

  public init(instructionBudget: Int = 50_000, processorID: UInt32 = 1, processorCount: Int = 2) {
    self.instructionBudget = instructionBudget
    self.processorID = processorID
    self.processorCount = processorCount
  }

  /// Everything one engine did with one form of a case.
  public struct Observation: Equatable, Sendable, CustomStringConvertible {
    public var prepared = true
    public var outcomes: [PacketOutcome] = []
    public var instructions = 0
    public var invocations = 0
    public var trace: [String] = []
    public var traceDropped = 0
    public var error: String?
    public var maps: MapContents?
    public var fallback: String?

    public var description: String {
      "prepared \(prepared), \(outcomes.count) outcomes \(outcomes.map { "\($0.action.name)/\($0.returnValue)/\($0.output.count)B" }), "
        + "instructions \(instructions), invocations \(invocations), trace \(trace.prefix(3)), "
        + "error \(error ?? "none")"
    }
  }

  /// Executions compared by one ``compare(_:)``: packets run in both
  /// engines, per packet and in the batch form.
  public struct Tally: Sendable {
    public var executions = 0
    public var batchForms = 0
  }

  /// Compares the engines on `generated`; throws the first disagreement.
  @discardableResult
  public func compare(_ generated: GeneratedCase) throws(Disagreement) -> Tally {
    var tally = Tally()
    let interpreted = observe(generated, program: generated.program, form: .perPacket, .interpreter)
    let compiled = observe(generated, program: generated.program, form: .perPacket, .jit)
    try expectAlike(interpreted, compiled, generated, form: "per-packet")
    tally.executions += interpreted.outcomes.count + (interpreted.error == nil ? 0 : 1)
    let variant = generated.batch
    guard
      let batch = try? BatchTrampoline(
        strategy: variant.strategy, bound: variant.bound, batchSize: variant.size
      ).rewrite(generated.program)
    else { return tally }
    let batchInterpreted = observe(generated, program: batch.program, form: .batch, .interpreter)
    let batchCompiled = observe(generated, program: batch.program, form: .batch, .jit)
    try expectAlike(batchInterpreted, batchCompiled, generated, form: "batch \(variant)")
    tally.executions += batchInterpreted.outcomes.count
    tally.batchForms += 1
    if generated.flavor == .verifiable, interpreted.error == nil, batchInterpreted.error == nil {
      try expectEquivalent(interpreted, batchInterpreted, generated)
    }
    return tally
  }

  private func expectAlike(
    _ interpreted: Observation, _ compiled: Observation, _ generated: GeneratedCase, form: String
  ) throws(Disagreement) {
    if let fallback = compiled.fallback {
      throw Disagreement(
        oracle: .engines,
        summary: "the JIT did not compile a prepared program (\(form)): \(fallback)",
        program: generated.program, packets: generated.packets)
    }
    guard interpreted != compiled else { return }
    throw Disagreement(
      oracle: .engines,
      summary:
        "interpreter and JIT disagree (\(form)):\n  interpreter: \(interpreted)\n  JIT:         \(compiled)"
        + (interpreted.maps != compiled.maps ? "\n  maps differ" : ""),
      program: generated.program, packets: generated.packets)
  }

  /// The batch form gives each packet what the per-packet form gave.
  private func expectEquivalent(
    _ perPacket: Observation, _ batch: Observation, _ generated: GeneratedCase
  ) throws(Disagreement) {
    let alike =
      perPacket.outcomes.count == batch.outcomes.count
      && zip(perPacket.outcomes, batch.outcomes).allSatisfy { one, other in
        one.action == other.action && one.returnValue & 0xffff_ffff == other.returnValue
          && one.output == other.output && one.metadata == other.metadata
          && one.redirect == other.redirect
      } && perPacket.trace == batch.trace && perPacket.maps == batch.maps
    guard !alike else { return }
    throw Disagreement(
      oracle: .batchForm,
      summary: "the batch form (\(generated.batch)) differs from the per-packet form:\n"
        + "  per packet: \(perPacket)\n  batch:      \(batch)",
      program: generated.program, packets: generated.packets)
  }

  /// Runs `program` in `form` on a fresh machine in `engine`.
  public func observe(
    _ generated: GeneratedCase, program: Program, form: Form, _ engine: EngineKind
  ) -> Observation {
    var observation = Observation()
    let configuration = MachineConfiguration(
      instructionBudget: instructionBudget, randomSeed: 0x5eed, processorID: processorID,
      processorCount: processorCount, fixedClock: (1_000, 7), engine: engine,
      memoryBudget: MemoryBudget(limit: 64 << 20), traceCapacity: 16 << 10)
    let machine: Machine
    let runner: PacketRunner
    do {
      machine = try Machine(maps: generated.maps, configuration: configuration)
      let prepared = try prepare(program, form: form, generated.flavor, on: machine)
      try installTailCallTargets(generated, program: prepared, on: machine)
      runner = try PacketRunner(
        machine: machine, program: prepared, form: form, batchSize: generated.batch.size)
      runner.padsPartialBatches = generated.batch.bound == .immediate
    } catch {
      observation.prepared = false
      observation.error = "\(error)"
      return observation
    }
    do {
      let report = try runner.run(generated.packets, batchSizes: [2, 1, 3])
      observation.outcomes = report.outcomes
      observation.instructions = report.instructions
      observation.invocations = report.invocations
    } catch {
      observation.error = "\(error)"
    }
    observation.trace = machine.takeTraceLines()
    observation.traceDropped = machine.traceLog.dropped
    observation.maps = MapContents(machine)
    observation.fallback = machine.engineFallback
    return observation
  }

  /// A verifiable case is prepared as the kernel prepares XDP programs;
  /// an unrestricted one with the whole instruction set.
  private func prepare(
    _ program: Program, form: Form, _ flavor: CaseGenerator.Flavor, on machine: Machine
  ) throws -> PreparedProgram {
    switch flavor {
    case .verifiable: try machine.prepare(program, form: form)
    case .unrestricted: try machine.prepare(instructions: program.instructions, name: program.name)
    }
  }

  /// The program array's slots: a short program (slot 0) and the case's
  /// own program (slot 1: a chain of tail calls up to the limit).
  private func installTailCallTargets(
    _ generated: GeneratedCase, program: PreparedProgram, on machine: Machine
  ) throws {
    guard generated.flavor == .unrestricted,
      machine.maps.indices.contains(GeneratedCase.programMap)
    else { return }
    let target = try machine.prepare(
      instructions: [
        .load(.word, .r2, from: .r1, offset: 4), .load(.word, .r0, from: .r1, offset: 0),
        .arithmetic(.sub, .r2, .r0), .move(.r0, .r2), .arithmetic(.and, .r0, immediate: 3), .exit,
      ], name: "tail")
    try machine.maps[GeneratedCase.programMap].setProgram(target, at: 0)
    try machine.maps[GeneratedCase.programMap].setProgram(program, at: 1)
  }
}

/// Two oracles disagree on a generated case: which, how, and the case
/// itself (instructions and packets, to reproduce it).
public struct Disagreement: Error, CustomStringConvertible, Sendable {
  /// Which comparison failed.
  public enum Oracle: String, Sendable {
    case engines = "interpreter vs JIT"
    case batchForm = "per-packet vs batch form"
    case kernel = "engine vs kernel"
  }

  public var oracle: Oracle
  public var summary: String
  public var program: Program
  public var packets: [[UInt8]]

  public init(oracle: Oracle, summary: String, program: Program, packets: [[UInt8]]) {
    self.oracle = oracle
    self.summary = summary
    self.program = program
    self.packets = packets
  }

  /// Bytes as two hex digits each, separated by spaces.
  public static func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
  }

  public var description: String {
    "\(oracle.rawValue): \(summary)\nprogram (\(program.instructions.count) slots, main "
      + "\(program.mainLength)), as bytes: \(Self.hex(Instruction.encode(program.instructions)))"
      + "\npackets: \(packets.map(Self.hex))"
  }
}
