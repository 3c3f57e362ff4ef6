import BPF
import Engine
import Frames
import FuzzSupport
import Rewriter

/// Fuzzes the engine: any bytes as an instruction stream, prepared on a
/// machine with an array, a hash, a per-CPU array and a device map, run
/// per packet over generated frames and, when the rewriter accepts it,
/// rewritten into its batch form and run in batches, each form in both
/// engines.
///
/// ASan does not see what matters most here. A program's memory (context
/// records, frames, stacks, map values) is one `mmap`ed arena whose
/// regions only the engine knows, and the JIT's code is not instrumented,
/// so an access that escapes its region, or a JIT bounds check that lets
/// one through, writes into the arena without any report. The engine must
/// catch those itself, and this harness checks what it must detect: the
/// interpreter (checks in Swift) and the JIT (checks in the emitted code)
/// must agree on every verdict, return value, output frame, redirect,
/// instruction count, trace line and error, and on the maps afterwards;
/// the JIT must compile what it is given; no machine may charge past its
/// memory budget. A disagreement traps, naming it: that, a crash, a leak,
/// a hang or an ASan report from the engine's own Swift code is a finding.
/// Refusals and execution errors both engines agree on are not.
@_cdecl("FuzzEngine_main")
func fuzzEngineMain(
  _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
  MemoryBudget.shared.limit = 1 << 30
  var generator = FrameGenerator(seed: 7)
  let frames = generator.frames(4)
  let maps = [
    MapDefinition(name: "counters", type: .array, keySize: 4, valueSize: 8, maxEntries: 16),
    MapDefinition(name: "flows", type: .hash, keySize: 4, valueSize: 16, maxEntries: 64),
    MapDefinition(name: "stats", type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 4),
    MapDefinition(name: "ports", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 8),
  ]
  return runLibFuzzer(argc: argc, argv: argv) { bytes in
    guard let instructions = try? Instruction.decode(littleEndian: bytes.prefix(bytes.count & ~7)),
      !instructions.isEmpty
    else { return }
    let program = Program(name: "fuzz", sectionName: "xdp", instructions: instructions)
    let run = EngineRun(maps: maps, frames: frames)
    run.expectAlike(program, form: .perPacket)
    guard let batch = try? BatchTrampoline(batchSize: EngineRun.batchSize).rewrite(program) else {
      return
    }
    run.expectAlike(batch.program, form: .batch)
  }
}

/// One form of a program run over the same frames in both engines.
struct EngineRun {
  static let batchSize = 4
  /// Batches of 3 then 1: a partial batch and a full one.
  static let batchSizes = [3, 1]

  var maps: [MapDefinition]
  var frames: [[UInt8]]

  /// What one engine did: every observable the engines must agree on.
  struct Trace: Equatable {
    var outcomes: [PacketOutcome] = []
    var instructions = 0
    var invocations = 0
    var trace: [String] = []
    var error: String?
    var maps: MapContents?
  }

  /// Runs `program` in `form` in both engines and traps unless they agree.
  func expectAlike(_ program: Program, form: Form) {
    let interpreted = trace(program, form: form, engine: .interpreter)
    let compiled = trace(program, form: form, engine: .jit)
    guard interpreted == compiled else {
      fatalError(
        "the interpreter and the JIT disagree on \(form) \(program.instructions.count) instructions:\n"
          + "interpreter: \(interpreted)\nJIT: \(compiled)")
    }
  }

  private func trace(_ program: Program, form: Form, engine: EngineKind) -> Trace {
    let budget = MemoryBudget(limit: 256 << 20)
    let configuration = MachineConfiguration(
      instructionBudget: 20_000, processorCount: 2, fixedClock: (1_000, 10), engine: engine,
      memoryBudget: budget)
    var result = Trace()
    let machine: Machine
    let runner: PacketRunner
    do {
      machine = try Machine(maps: maps, configuration: configuration)
      machine.seedDeviceMaps()
      runner = try PacketRunner(
        machine: machine, program: try machine.prepare(program), form: form,
        batchSize: Self.batchSize)
    } catch {
      result.error = "not run: \(error)"
      return result
    }
    do {
      let report = try runner.run(frames, batchSizes: Self.batchSizes)
      result.outcomes = report.outcomes
      result.instructions = report.instructions
      result.invocations = report.invocations
    } catch {
      result.error = "\(error)"
    }
    result.trace = machine.traceLog
    result.maps = MapContents(machine)
    #if arch(x86_64)
      if engine == .jit, let fallback = machine.engineFallback {
        fatalError("the JIT did not compile a prepared program: \(fallback)")
      }
    #endif
    if budget.used > budget.limit {
      fatalError("machine charged \(budget.used) bytes past its budget of \(budget.limit)")
    }
    return result
  }
}
