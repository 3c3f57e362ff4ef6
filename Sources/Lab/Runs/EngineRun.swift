import BPF
import Engine
import Frames
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

  /// The trace ring of a run whose lines are read (`run --trace`): what
  /// one chunk of frames may print before its oldest lines are dropped.
  public static let traceCapacity = 4 << 20

  /// Runs the program over `frames`. With `trace`, what the program
  /// printed with `bpf_trace_printk` is handed over after each chunk of
  /// frames, oldest first (lines past ``traceCapacity`` a chunk are
  /// dropped and counted in the machine's `traceLog.dropped`).
  public func run(
    _ frames: [[UInt8]], trace: (([String]) -> Void)? = nil
  ) throws(EngineRunError) -> Outcome {
    try run(frameCount: frames.count, keepingOutcomes: true, trace: trace) { first, count in
      Array(frames[first..<(first + count)])
    }
  }

  /// Runs the program over `count` frames of `generator`, each made just
  /// before it runs, a chunk of whole batches at a time: memory stays that
  /// of one chunk (about 5 MB), not 1.3 KB a frame for the whole run. The
  /// report keeps each frame's outcome only when `keepingOutcomes`; its
  /// counts cover every frame either way.
  public func run(
    generating count: Int, with generator: FrameGenerator, keepingOutcomes: Bool,
    trace: (([String]) -> Void)? = nil
  ) throws(EngineRunError) -> Outcome {
    var generator = generator
    return try run(frameCount: count, keepingOutcomes: keepingOutcomes, trace: trace) {
      _, chunk in
      generator.frames(chunk)
    }
  }

  /// The runner's frames a chunk holds at most: whole batches, so that a
  /// chunked run calls the program exactly as one over every frame would.
  public static func chunkSize(batchSize: Int) -> Int { batchSize * max(1, 4096 / batchSize) }

  private func run(
    frameCount: Int, keepingOutcomes: Bool, trace: (([String]) -> Void)?,
    frames: (_ first: Int, _ count: Int) -> [[UInt8]]
  ) throws(EngineRunError) -> Outcome {
    // Refused as compiled, so that the instruction is the object's.
    if let refusal = ContextAccessCheck.firstRefusal(in: program.instructions) {
      throw .preparation(.contextAccess(refusal))
    }
    if let refusal = MapAccessRules.firstRefusal(in: program.instructions, maps: maps) {
      throw .preparation(.mapAccess(refusal))
    }
    let batch = try batchProgram()
    let machine: Machine
    let runner: PacketRunner
    do {
      machine = try Machine(
        maps: maps,
        configuration: MachineConfiguration(
          engine: engine,
          traceCapacity: trace == nil ? TraceLog.defaultCapacity : Self.traceCapacity))
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
    var report = RunReport()
    var elapsed = Duration.zero
    let chunk = Self.chunkSize(batchSize: runner.batchSize)
    var first = 0
    while first < frameCount {
      let part = frames(first, min(chunk, frameCount - first))
      let start = ContinuousClock.now
      let partReport: RunReport
      do {
        partReport = try runner.run(part)
      } catch {
        throw .run(error.counted(from: first), batchForm: batch)
      }
      elapsed += ContinuousClock.now - start
      report.totals.add(partReport.totals)
      report.instructions += partReport.instructions
      report.invocations += partReport.invocations
      if keepingOutcomes { report.outcomes += partReport.outcomes }
      if let trace {
        let lines = machine.takeTraceLines()
        if !lines.isEmpty { trace(lines) }
      }
      first += part.count
    }
    return Outcome(report: report, elapsed: elapsed, machine: machine)
  }
}

extension RunError {
  /// The error with its packet index counted from `first`, for a run
  /// over a chunk that starts there.
  fileprivate func counted(from first: Int) -> RunError {
    switch self {
    case .execution(let packet, let error): .execution(packet: first + packet, error)
    case .packetTooLarge(let packet, let size, let limit):
      .packetTooLarge(packet: first + packet, size: size, limit: limit)
    case .batchIncomplete(let packet, let processed, let expected):
      .batchIncomplete(packet: first + packet, processed: processed, expected: expected)
    case .addressSpace: self
    case .packetOutsideFrame(let packet, let data, let end, let meta):
      .packetOutsideFrame(packet: first + packet, data: data, end: end, meta: meta)
    }
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
