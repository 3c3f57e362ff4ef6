/// A machine's side of the JIT: the ``JITContext`` block its code reads
/// through R12 and the error a callback raised.
final class JITRuntime {
  /// The block, ``JITContext/size`` bytes.
  let context: UnsafeMutableRawPointer
  /// The error a Swift callback threw during the current run.
  var error: ExecutionError?
  /// Calls the machine's code made into Swift for helpers, tail calls and atomics,
  /// over its life (what the JIT does not inline; tests read it).
  var swiftCalls = 0

  init() {
    context = .allocate(byteCount: JITContext.size, alignment: 16)
    context.initializeMemory(as: UInt8.self, repeating: 0, count: JITContext.size)
  }

  /// The maps' ``MapDescriptor``s (``JITContext/mapTable``).
  private var mapDescriptors: UnsafeMutablePointer<MapDescriptor>?

  deinit {
    context.deallocate()
    mapDescriptors?.deallocate()
  }

  /// Sets the fields that stay for the machine's life: the machine, its
  /// register file and its stack tops.
  func attach(_ machine: Machine) {
    self[JITContext.machine] = UInt64(
      UInt(bitPattern: Unmanaged.passUnretained(machine).toOpaque()))
    self[JITContext.registers] = UInt64(UInt(bitPattern: machine.registers))
    refresh(machine.addressSpace)
    for frame in 0..<Machine.frameLimit {
      self[JITContext.stackTops + Int32(frame * 8)] = machine.stackTops[frame]
    }
    let maps = machine.maps
    let table = UnsafeMutablePointer<MapDescriptor>.allocate(capacity: max(maps.count, 1))
    for (index, map) in maps.enumerated() {
      (table + index).initialize(
        to: MapDescriptor(map, processor: Int(machine.configuration.processorID)))
    }
    mapDescriptors = table
    self[JITContext.mapTable] = UInt64(UInt(bitPattern: table))
    self[JITContext.mapCount] = UInt64(maps.count)
  }

  subscript(field: Int32) -> UInt64 {
    get { context.load(fromByteOffset: Int(field), as: UInt64.self) }
    set { context.storeBytes(of: newValue, toByteOffset: Int(field), as: UInt64.self) }
  }

  /// The machine whose block `context` is.
  static func machine(in context: UnsafeMutableRawPointer) -> Machine {
    let raw = context.load(fromByteOffset: Int(JITContext.machine), as: UInt.self)
    return Unmanaged<Machine>.fromOpaque(UnsafeRawPointer(bitPattern: raw)!)
      .takeUnretainedValue()
  }

  /// Calls `body` with the machine whose block `context` is, without
  /// retaining it: the run that called into the code holds the machine.
  @inline(__always)
  static func withMachine<Result>(
    in context: UnsafeMutableRawPointer, _ body: (Machine) -> Result
  ) -> Result {
    let raw = context.load(fromByteOffset: Int(JITContext.machine), as: UInt.self)
    return Unmanaged<Machine>.fromOpaque(UnsafeRawPointer(bitPattern: raw)!)
      ._withUnsafeGuaranteedRef(body)
  }

  /// Copies the address space's arena, page table and size into the block.
  func refresh(_ space: AddressSpace) {
    self[JITContext.arena] = UInt64(UInt(bitPattern: space.arena))
    self[JITContext.limits] = UInt64(UInt(bitPattern: space.limits))
    self[JITContext.writeLimits] = UInt64(UInt(bitPattern: space.writeLimits))
    self[JITContext.pages] = UInt64(space.pageCount)
    self[JITContext.spaceGeneration] = UInt64(UInt(bitPattern: space.generation))
    AccessWindow.empty(context)
  }

  func fail(_ error: ExecutionError) {
    self.error = error
    set(.callbackError)
  }

  func set(_ status: JITContext.Status) {
    self[JITContext.status] = UInt64(status.rawValue)
  }
}

extension Machine {
  /// The program's machine code, compiled on first use; nil (and
  /// ``engineFallback`` says why) when it cannot be compiled.
  func compiledCode(for program: PreparedProgram) -> CompiledProgram? {
    if let code = program.compiled { return code }
    if program.compileFailure != nil { return nil }
    do {
      let code = try JITCompiler.compile(
        program,
        storage: MapValuePointers.Storage(
          maps: maps, processor: Int(configuration.processorID), space: addressSpace))
      program.compiled = code
      program.entry = code.entry
      return code
    } catch {
      program.compileFailure = error
      engineFallback = "program \(program.name) runs in the interpreter: \(error)"
      return nil
    }
  }

  /// The entry of the program's machine code, as ``compiledCode(for:)``,
  /// read without retaining the code (the program, held by the run, owns it).
  @inline(__always)
  func compiledEntry(for program: PreparedProgram) -> CompiledProgram.Entry? {
    if let entry = program.entry { return entry }
    return compiledCode(for: program)?.entry
  }

  /// Runs compiled code with the registers ``run(_:r1:r2:)`` set up.
  func runCompiled(_ entry: CompiledProgram.Entry) throws(ExecutionError) -> UInt64 {
    let context = armContext()
    let record = trustedRecord(registers[1])
    jit[JITContext.trustedRecord] = record
    jit[JITContext.trustedCount] = record == 0 ? 0 : trustedCount(record, registers[2])
    let result = entry(context, registers[1], registers[2])
    return try finishCompiledRun(result)
  }

  /// Fills the context block for a run (the fixed fields were set by
  /// ``JITRuntime/attach(_:)``) and returns it.
  func armContext() -> UnsafeMutableRawPointer {
    let state = jit
    state.refresh(addressSpace)
    state[JITContext.budget] = UInt64(configuration.instructionBudget)
    state[JITContext.executed] = 0
    state[JITContext.depth] = 0
    state[JITContext.status] = 0
    // No record is trusted until the entry names one.
    state[JITContext.trustedRecord] = 0
    state[JITContext.trustedCount] = 0
    if state.error != nil { state.error = nil }
    return state.context
  }

  /// The run's result, or its error, from the context block.
  func finishCompiledRun(_ result: UInt64) throws(ExecutionError) -> UInt64 {
    let state = jit
    executedInstructions = Int(state[JITContext.executed])
    let index = Int(state[JITContext.faultIndex])
    switch JITContext.Status(rawValue: Int32(truncatingIfNeeded: state[JITContext.status])) {
    case .ok: return result
    case .legacyLoadExit: return 0
    case .memoryFault:
      let info = Int(state[JITContext.faultInfo])
      throw .memoryFault(
        index: index, address: state[JITContext.faultAddress], size: info & 0xff,
        write: info & 0x100 != 0)
    case .budgetExceeded:
      throw .instructionBudgetExceeded(index: index, budget: configuration.instructionBudget)
    case .callDepthExceeded: throw .callDepthExceeded(index: index, limit: Machine.frameLimit)
    case .fellOffEnd: throw .fellOffEnd(index: index)
    case .callbackError, .none:
      throw state.error
        ?? .helperFault(index: index, helper: 0, reason: "JIT callback failed without an error")
    }
  }
}
