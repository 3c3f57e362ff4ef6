import BPF
import Engine

/// One XDP program run on one packet in one engine through the engine's
/// public API, prepared with the kernel's rules for XDP programs (as
/// `run`, `check` and the software datapath prepare them): the harness
/// of the helper-contract suites, which hold whatever backs the maps and
/// whether a helper is inlined, since they look only at what a program
/// and its caller see.
struct XDPProbe {
  var engine: EngineKind
  var maps: [MapDefinition] = []
  var budget = 1_000_000
  var packet = [UInt8](repeating: 0xab, count: 60)
  var traceCapacity = TraceLog.defaultCapacity

  /// The machine's configuration.
  var configuration: MachineConfiguration {
    MachineConfiguration(
      instructionBudget: budget, fixedClock: (1_000, 10), engine: engine,
      memoryBudget: MemoryBudget(limit: 256 << 20), traceCapacity: traceCapacity)
  }

  /// Runs `instructions` on ``packet``; the outcome or the error that
  /// stopped the run, and the machine afterwards.
  func run(_ instructions: [Instruction], setUp: (Machine) throws -> Void = { _ in }) throws
    -> (result: Result<PacketOutcome, RunError>, machine: Machine)
  {
    let machine = try Machine(maps: maps, configuration: configuration)
    try setUp(machine)
    let program = try machine.prepare(
      Program(name: "probe", sectionName: "xdp", instructions: instructions))
    let runner = try PacketRunner(machine: machine, program: program, form: .perPacket)
    let result = Result { () throws(RunError) in try runner.run([packet]).outcomes[0] }
    #if arch(x86_64)
      if engine == .jit, let fallback = machine.engineFallback {
        throw ProbeFailure(description: "the JIT did not compile the probe: \(fallback)")
      }
    #endif
    return (result, machine)
  }

  /// R0 of a run that must finish.
  func returnValue(
    _ instructions: [Instruction], setUp: (Machine) throws -> Void = { _ in }
  ) throws -> UInt64 {
    try run(instructions, setUp: setUp).result.get().returnValue
  }

  /// The error a run that must stop stops with (nil: it finished).
  func executionError(
    _ instructions: [Instruction], setUp: (Machine) throws -> Void = { _ in }
  ) throws -> ExecutionError? {
    switch try run(instructions, setUp: setUp).result {
    case .success: return nil
    case .failure(.execution(_, let error)): return error
    case .failure(let other): throw other
    }
  }
}

struct ProbeFailure: Error, CustomStringConvertible {
  var description: String
}

/// A helper's negative errno as R0 holds it.
func negative(_ code: Errno) -> UInt64 { UInt64(bitPattern: Int64(-code)) }

/// `r(register) = value`, any 64-bit value.
func set(_ register: Register, _ value: UInt64) -> [Instruction] {
  Instruction.loadImmediate64(register, value)
}

/// Hostile addresses: NULL, inside page 0, the top of the 32-bit space,
/// past it, a wrapped negative and a map handle used as a pointer.
let hostileAddresses: [UInt64] = [
  0, 1, 0xfff, 0xffff_ffff, 0x1_0000_0000, 0xffff_ffff_ffff_fff0, 0xffff_0000_0000_0000,
]

/// Hostile sizes and offsets as 64-bit register values: 0, -1 (as u32 and
/// as u64), the 16-bit edges the packet helpers check, INT_MIN, INT_MAX.
let hostileSizes: [UInt64] = [
  0, 0xffff_ffff, 0xffff_ffff_ffff_ffff, 0xffff, 0x1_0000, 0x8000_0000, 0x7fff_ffff,
]
