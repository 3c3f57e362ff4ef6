import BPF
import Engine
import Rewriter

/// One offline run of an XDP program in the engine over frames (what
/// `xdpbatch run` does): the program as compiled, one call a packet, or
/// its batch form, one call a batch of records; timed from the first
/// frame to the last.
public struct EngineRun {
  /// The program as compiled (linked).
  public var program: Program
  /// Its object's map table: the engine makes one map of each.
  public var maps: [MapDefinition]
  /// Per packet, or the batch form.
  public var form: Form
  /// For the batch form: how the program is rewritten, and the records
  /// per batch.
  public var trampoline: BatchTrampoline
  /// The engine that runs it.
  public var engine: EngineKind

  /// Describes a run.
  public init(
    program: Program, maps: [MapDefinition], form: Form, trampoline: BatchTrampoline,
    engine: EngineKind
  ) {
    self.program = program
    self.maps = maps
    self.form = form
    self.trampoline = trampoline
    self.engine = engine
  }

  /// What a run did.
  public struct Outcome {
    /// Counts, verdicts and output frames.
    public var report: RunReport
    /// From the first frame in to the last verdict out.
    public var elapsed: Duration
    /// The machine afterwards: its maps, and why it fell back to the
    /// interpreter if it did.
    public var machine: Machine
  }

  /// The batch form of ``program`` (nil per packet).
  public func batchProgram() throws(EngineRunError) -> BatchProgram? {
    guard form == .batch else { return nil }
    do {
      return try trampoline.rewrite(program)
    } catch {
      throw .batchForm(error)
    }
  }

  /// Runs the program over `frames`.
  public func run(_ frames: [[UInt8]]) throws(EngineRunError) -> Outcome {
    // Refused as compiled, so that the instruction is the object's.
    if let refusal = ContextAccessCheck.firstRefusal(in: program.instructions) {
      throw .preparation(.contextAccess(refusal))
    }
    let batch = try batchProgram()
    let machine: Machine
    let runner: PacketRunner
    do {
      machine = try Machine(maps: maps, configuration: MachineConfiguration(engine: engine))
    } catch {
      throw .machine(error)
    }
    let prepared: PreparedProgram
    do {
      prepared = try machine.prepare(batch?.program ?? program, form: form)
    } catch {
      throw .preparation(error)
    }
    do {
      runner = try PacketRunner(
        machine: machine, program: prepared, form: form, batchSize: trampoline.batchSize)
    } catch {
      throw .runner(error)
    }
    // A batch bounded by an immediate count always runs full batches.
    runner.padsPartialBatches = trampoline.bound == .immediate
    let start = ContinuousClock.now
    let report: RunReport
    do {
      report = try runner.run(frames)
    } catch {
      throw .run(error, batchForm: batch)
    }
    return Outcome(report: report, elapsed: ContinuousClock.now - start, machine: machine)
  }
}

/// Why an ``EngineRun`` failed.
public enum EngineRunError: Error, CustomStringConvertible {
  /// The batch trampoline could not rewrite the program.
  case batchForm(RewriteError)
  /// The engine could not make the object's maps.
  case machine(MachineError)
  /// The engine refused the program.
  case preparation(PreparationError)
  /// The runner could not set up its frames.
  case runner(RunError)
  /// A frame's run failed; in the batch form, the instruction is named
  /// back in the program as compiled.
  case run(RunError, batchForm: BatchProgram?)

  public var description: String {
    switch self {
    case .batchForm(let error): "cannot build the batch form: \(error)"
    case .machine(let error): "\(error)"
    case .preparation(let error): "\(error)"
    case .runner(let error): "\(error)"
    case .run(let error, let batch):
      error.description + Self.location(of: error, in: batch)
    }
  }

  /// Where in the program as compiled a failing batch-form instruction
  /// comes from ("" when the error names no instruction).
  private static func location(of error: RunError, in batch: BatchProgram?) -> String {
    guard case .execution(_, let execution) = error, let batch,
      let index = execution.instructionIndex
    else { return "" }
    if let original = batch.originalLocations.firstIndex(of: index) {
      return " (instruction \(original) of the program as compiled)"
    }
    return " (in the batch trampoline's own code)"
  }
}

extension ExecutionError {
  /// The instruction the error names.
  fileprivate var instructionIndex: Int? {
    switch self {
    case .memoryFault(let index, _, _, _), .instructionBudgetExceeded(let index, _),
      .callDepthExceeded(let index, _), .fellOffEnd(let index), .helperFault(let index, _, _):
      index
    }
  }
}
