import BPF

/// The engine's virtual machine: the address space, the maps, the stack
/// frames and the state helpers keep between calls (redirect target, random
/// state, captured `trace_printk` output).
///
/// A machine runs one program at a time. It is not thread-safe; give each
/// thread its own machine.
public final class Machine {
  /// The most frames a run may have, the main program's included (the
  /// kernel's `MAX_CALL_FRAMES`).
  public static let frameLimit = 8
  /// The stack bytes of one frame (the kernel's `MAX_BPF_STACK`).
  public static let frameSize = 512
  /// The most tail calls one run may take (the kernel's `MAX_TAIL_CALL_CNT`).
  public static let tailCallLimit = 33

  /// How the machine behaves.
  public let configuration: MachineConfiguration
  /// Every region programs can reach.
  public let addressSpace: AddressSpace
  /// The maps, in the order of the object's map table.
  public var maps: [BPFMap] { mapTable }
  /// Storage of ``maps`` (internal: no run-time exclusivity check on the
  /// helpers' lookups).
  private(set) var mapTable: [BPFMap] = []
  /// What `trace_printk` printed: a bounded ring of the newest lines
  /// (``TraceLog``); ``takeTraceLines()`` empties it.
  public private(set) var traceLog: TraceLog
  /// Lines `trace_printk` printed over the machine's life
  /// (``TraceLog/printed``), read without copying the log.
  public var tracePrinted: Int { traceLog.printed }
  /// Bytes of the trace ring charged to the memory budget.
  private var traceCharged = 0
  /// The redirect target set by the last `redirect`/`redirect_map` and not
  /// yet consumed (the kernel's per-CPU `bpf_redirect_info`), kept as
  /// ``RedirectWords`` in the JIT's context block, where compiled code
  /// and the interpreter's helpers both read and write it.
  public var pendingRedirect: RedirectTarget? {
    get { pendingRedirectWords.target }
    set { pendingRedirectWords = RedirectWords(newValue) }
  }

  /// ``pendingRedirect`` as it lies in memory.
  var pendingRedirectWords: RedirectWords {
    get {
      jit.context.loadUnaligned(
        fromByteOffset: Int(JITContext.pendingRedirect), as: RedirectWords.self)
    }
    set {
      jit.context.storeBytes(
        of: newValue, toByteOffset: Int(JITContext.pendingRedirect), as: RedirectWords.self)
    }
  }
  /// Instructions executed by the last run (including a failed one).
  public var lastInstructionCount: Int { executedInstructions }
  /// Storage of ``lastInstructionCount``: internal, so that the whole
  /// module's accesses are known and need no run-time exclusivity check.
  var executedInstructions = 0

  let registers: UnsafeMutablePointer<UInt64>
  let frames: UnsafeMutablePointer<CallFrame>
  let stackTops: UnsafeMutablePointer<UInt64>
  /// Packet frames behind context records, by slot of each runner's records.
  let packetFrames = PacketFrameTable()
  /// Instructions the run had executed when it called the current helper.
  var instructionsAtHelperCall = 0
  /// The helpers' work so far in this run, in instructions
  /// (``chargeHelperWork(bytes:_:)``), kept in the JIT's context block
  /// where its inline packet helpers charge it too.
  var helperWork: Int {
    get { Int(truncatingIfNeeded: jit[JITContext.helperWork]) }
    set { jit[JITContext.helperWork] = UInt64(truncatingIfNeeded: newValue) }
  }
  /// Bytes the legacy `ld_abs`/`ld_ind` loads read from.
  var legacyPacket: (start: UInt64, end: UInt64) = (0, 0)
  /// Whether tail calls are refused (batch runs), kept in the JIT's
  /// context block where its native tail calls read it.
  var refusesTailCalls: Bool {
    get { jit[JITContext.tailCallsRefused] != 0 }
    set { jit[JITContext.tailCallsRefused] = newValue ? 1 : 0 }
  }
  /// The tail-call targets the current run has entered, held until the run
  /// ends: a program that deletes its own PROG_ARRAY slot keeps running on
  /// code that stays allocated. (The program a run starts with is held by
  /// the caller of ``run(_:r1:r2:)`` for the whole call.)
  var runningPrograms: [PreparedProgram] = []
  /// The JIT's context block and callback error (its fixed fields, the
  /// machine's own pointers, set once by init).
  let jit = JITRuntime()
  /// Why a program ran in the interpreter although the configuration asked
  /// for the JIT (nil when every program compiled).
  public internal(set) var engineFallback: String?
  /// Tail calls taken by the current run, kept in the JIT's context
  /// block, where its native tail calls count.
  var tailCallCount: Int {
    get { Int(jit[JITContext.tailCalls]) }
    set { jit[JITContext.tailCalls] = UInt64(newValue) }
  }
  var randomState: UInt64
  var clockTicks: UInt64 = 0
  let clockOrigin = ContinuousClock.now

  /// Makes a machine with one map per definition.
  ///
  /// - Throws: ``MachineError`` when a map type is not supported or the
  ///   address space cannot hold the maps.
  public init(maps definitions: [MapDefinition] = [], configuration: MachineConfiguration = .init())
    throws(MachineError)
  {
    self.configuration = configuration
    traceLog = TraceLog(capacity: configuration.traceCapacity)
    do {
      addressSpace = try AddressSpace(budget: configuration.memoryBudget)
    } catch {
      throw .addressSpace(error)
    }
    registers = .allocate(capacity: 16)
    registers.initialize(repeating: 0, count: 16)
    frames = .allocate(capacity: Self.frameLimit)
    stackTops = .allocate(capacity: Self.frameLimit)
    randomState = configuration.randomSeed
    do {
      for frame in 0..<Self.frameLimit {
        let region = try addressSpace.map(length: Self.frameSize, name: "stack frame \(frame)")
        stackTops[frame] = UInt64(region.end)
      }
      for (index, definition) in definitions.enumerated() {
        mapTable.append(
          try BPFMap(
            definition, index: index, processors: configuration.processorCount,
            in: addressSpace))
      }
    } catch let error as MachineError {
      throw error
    } catch {
      throw .addressSpace(error as! AddressSpaceError)
    }
    jit.attach(self)
  }

  deinit {
    registers.deallocate()
    frames.deallocate()
    stackTops.deallocate()
  }

  /// Removes and returns the lines `trace_printk` printed since the last
  /// call, oldest first (their memory goes back to the budget).
  public func takeTraceLines() -> [String] {
    let lines = traceLog.take()
    addressSpace.releaseHost(traceCharged)
    traceCharged = 0
    return lines
  }

  /// Keeps a line `trace_printk` printed, charging the ring's growth to
  /// the memory budget (whole pages at a time, at most the ring's
  /// capacity); a line the budget cannot hold is dropped and counted.
  func recordTrace(_ line: String) {
    let needed = min(traceLog.capacity, traceLog.bytes + TraceLog.cost(line))
    if needed > traceCharged {
      let pages = (needed + AddressSpace.pageSize - 1) & ~(AddressSpace.pageSize - 1)
      let step = min(traceLog.capacity, pages) - traceCharged
      guard addressSpace.chargeHost(step, for: "trace log") else {
        traceLog.drop()
        return
      }
      traceCharged += step
    }
    traceLog.append(line)
  }

  /// The value a program holds for map `index` (what `ld_imm64` with
  /// source 5 loads): not an address, so a dereference faults.
  public static func mapHandle(_ index: Int) -> UInt64 { 0xffff_0000_0000_0000 | UInt64(index) }

  /// The map a handle names, if any.
  func map(handle: UInt64) -> BPFMap? {
    guard handle >> 32 == 0xffff_0000, let index = Int(exactly: handle & 0xffff_ffff),
      index < mapTable.count
    else { return nil }
    return mapTable[index]
  }

  /// Checks and decodes a linked XDP program for this machine, with the
  /// kernel's rules for XDP programs: what its verifier refuses by the
  /// instructions alone (``XDPInstructionRules``: legacy packet loads,
  /// `callx`, helper ids the kernel does not have) is refused here with
  /// the verifier's words, as are helpers the engine does not implement,
  /// bad jumps and missing maps, each naming the instruction index; and so
  /// is every access to the context the verifier refuses
  /// (``ContextAccessCheck``: a write to `struct xdp_md`, a dereference of
  /// a moved context pointer), and every use of a map's values or of a
  /// map helper the verifier refuses by the maps' kinds and flags
  /// (``MapAccessRules``: a store into a DEVMAP or `.rodata` value, an
  /// update of a read-only map, a CPUMAP lookup).
  ///
  /// - Parameter form: `.batch` for a batch form from the rewriter, whose
  ///   context pointer steps from record to record, whose epilogue stores
  ///   each record's verdict, and which may call the engine's own
  ///   ``HelperFunction/commitRedirect``.
  public func prepare(_ program: Program, form: Form = .perPacket) throws(PreparationError)
    -> PreparedProgram
  {
    let engineHelpers: Set<Int32> = form == .batch ? [HelperFunction.commitRedirect.rawValue] : []
    let prepared = try prepare(
      program.instructions, name: program.name,
      refusal: { XDPInstructionRules.firstRefusal(in: $0, engineHelpers: engineHelpers) })
    if let refusal = ContextAccessCheck.firstRefusal(in: program.instructions, form: form) {
      throw .contextAccess(refusal)
    }
    if let refusal = MapAccessRules.firstRefusal(
      in: program.instructions, maps: mapTable.map(\.definition))
    {
      throw .mapAccess(refusal)
    }
    return prepared
  }

  /// Checks and decodes a bare instruction sequence as the instruction
  /// set defines it (RFC 9669, and uBPF's conventions for what it leaves
  /// open: `callx` calls the helper whose id is in the register, legacy
  /// packet loads read the memory a conformance run passes): for
  /// conformance runs and tests, not for programs from objects.
  public func prepare(instructions: [Instruction], name: String = "program")
    throws(PreparationError) -> PreparedProgram
  {
    try prepare(instructions, name: name, refusal: { _ in nil })
  }

  private func prepare(
    _ instructions: [Instruction], name: String,
    refusal: @escaping ([Instruction]) -> VerifierRefusal?
  ) throws(PreparationError) -> PreparedProgram {
    let conformance = configuration.conformanceHelpers
    let context = PreparationContext(
      refusal: refusal,
      knowsHelper: { id in
        Helpers.known.contains(id) || (conformance && id == Helpers.conformanceUnwind)
      },
      mapHandle: { [maps] index in
        index >= 0 && index < maps.count ? Self.mapHandle(index) : nil
      },
      mapValue: { [maps] index in
        guard index >= 0, index < maps.count, let base = maps[index].firstValueAddress else {
          return nil
        }
        return (UInt64(base), maps[index].definition.valueSize)
      })
    return try PreparedProgram.decode(instructions, name: name, context: context)
  }

  /// Lets go of the tail-call targets the run held, and of programs taken
  /// out of PROG_ARRAY slots while it ran.
  func endTailCalls() {
    runningPrograms.removeAll(keepingCapacity: true)
    for map in mapTable where map.kind == .programArray { map.programs.releaseRetired() }
  }

  /// Runs a prepared program with R1 and R2 set, and returns R0.
  ///
  /// - Throws: ``ExecutionError`` on an out-of-bounds access, a runaway
  ///   loop, too deep calls, or a helper misuse.
  public func run(_ program: PreparedProgram, r1: UInt64, r2: UInt64 = 0) throws(ExecutionError)
    -> UInt64
  {
    for register in 0..<11 { registers[register] = 0 }
    registers[1] = r1
    registers[2] = r2
    registers[10] = stackTops[0]
    tailCallCount = 0
    helperWork = 0
    // Only a program with a tail call can enter others (its bpf-to-bpf
    // subprograms are in its own slots).
    defer { if program.usesTailCalls { endTailCalls() } }
    if configuration.engine == .jit, let entry = compiledEntry(for: program) {
      return try runCompiled(entry)
    }
    return try interpret(program)
  }
}

/// What a machine is set up with.
public struct MachineConfiguration: Sendable {
  /// Instructions one run may execute before it is stopped.
  public var instructionBudget: Int
  /// Seed of `get_prandom_u32`.
  public var randomSeed: UInt64
  /// What `get_smp_processor_id` returns, and which per-CPU value programs see.
  public var processorID: UInt32
  /// Number of per-CPU copies per-CPU maps keep.
  public var processorCount: Int
  /// When set, `ktime_get_ns` returns `start + n * step` for the n-th call
  /// instead of the monotonic clock (deterministic tests).
  public var fixedClock: (start: UInt64, step: UInt64)?
  /// The bpf_conformance plugin mode: helper 5 returns R1 instead of the time.
  public var conformanceHelpers: Bool
  /// Which engine runs programs (the JIT on x86-64 by default).
  public var engine: EngineKind
  /// What the machine's memory is charged to (one budget per process).
  public var memoryBudget: MemoryBudget
  /// The most bytes of `trace_printk` output the machine keeps until it
  /// is taken (``Machine/takeTraceLines()``); older lines are dropped.
  public var traceCapacity: Int

  /// Describes a configuration.
  public init(
    instructionBudget: Int = 1_000_000, randomSeed: UInt64 = 0x5eed, processorID: UInt32 = 0,
    processorCount: Int = 1, fixedClock: (start: UInt64, step: UInt64)? = nil,
    conformanceHelpers: Bool = false, engine: EngineKind = .platformDefault,
    memoryBudget: MemoryBudget = .shared, traceCapacity: Int = TraceLog.defaultCapacity
  ) {
    self.engine = engine
    self.traceCapacity = traceCapacity
    self.memoryBudget = memoryBudget
    self.instructionBudget = instructionBudget
    self.randomSeed = randomSeed
    self.processorID = processorID
    self.processorCount = max(1, processorCount)
    self.fixedClock = fixedClock
    self.conformanceHelpers = conformanceHelpers
  }
}

/// Why a machine could not be built.
public enum MachineError: Error, Equatable, Sendable {
  /// The map's type is not one the engine implements.
  case unsupportedMap(name: String, type: MapType)
  /// The map's sizes are not usable (zero key or value, too large).
  case invalidMap(name: String, reason: String)
  /// The maps do not fit the address space.
  case addressSpace(AddressSpaceError)
}

extension MachineError: CustomStringConvertible {
  /// A one-line message naming the map.
  public var description: String {
    switch self {
    case .unsupportedMap(let name, let type):
      "map \(name): type \(type.name ?? String(type.rawValue)) is not supported by the engine"
    case .invalidMap(let name, let reason): "map \(name): \(reason)"
    case .addressSpace(let error): error.description
    }
  }
}

/// A saved caller frame of a bpf-to-bpf call.
struct CallFrame {
  var returnIndex: Int
  var code: UnsafeMutablePointer<Slot>
  var r6: UInt64, r7: UInt64, r8: UInt64, r9: UInt64, r10: UInt64
}

/// The `xdp_buff` behind one context record, as the runner that filled
/// the record keeps it: the frame's hard bounds, and where the packet and
/// its metadata are. Only the runner and the helpers that move the bounds
/// (`adjust_head`, `adjust_meta`, `adjust_tail`) change it; what a program
/// leaves in its record's fields is never read back as a bound.
struct PacketFrame {
  /// `data_hard_start`: where the frame (and its headroom) begins.
  var hardStart: UInt64
  /// `data_hard_end`: the end of usable tailroom (frame end less the
  /// reserved `skb_shared_info`).
  var hardEnd: UInt64
  /// `data`: the packet's first byte.
  var data: UInt64 = 0
  /// `data_end`: one past the packet's last byte.
  var end: UInt64 = 0
  /// `data_meta`: the metadata's first byte (`data` when there is none).
  var meta: UInt64 = 0
}
