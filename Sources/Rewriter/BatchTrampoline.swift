import BPF

/// Wraps a per-packet XDP program in a loop over a batch of context
/// records: the batch trampoline of the LPC 2019 proof of concept, done the
/// way the talk's questions asked for.
///
/// - A prologue (once) saves the first record's address and the bound.
/// - Every `exit` of the main program becomes a jump to ONE epilogue; exits
///   of subprograms are returns and stay. A jump to instruction 0 still
///   lands on the original first instruction, after the prologue.
/// - The epilogue (per packet) stores R0 into the record's action field
///   (the runner maps values above 4 to ABORTED), steps to the next record
///   and loops while below the bound; after the loop the program returns
///   the number of records processed. The cursor and the bound live in
///   callee-saved registers the program never names when it leaves them
///   (``TrampolineSlots``), else in stack slots.
/// - If the program calls `bpf_redirect` or `bpf_redirect_map`, the
///   epilogue calls ``HelperFunction/commitRedirect`` so that each record
///   keeps its own redirect target (the per-CPU `bpf_redirect_info` bug the
///   talk's audience raised); only after an `XDP_REDIRECT` verdict when
///   the helpers' results are the program's return values
///   (``RedirectCommit``).
/// - Tail calls (they never return) and stacks that cannot be proven to fit
///   are refused with a ``RewriteError``. Every emitted program passes
///   ``SafetyCheck``.
public struct BatchTrampoline: Sendable {
  /// Where the loop's values live on the stack.
  public var strategy: BatchStrategy
  /// How the loop knows when to stop.
  public var bound: BatchBound
  /// The largest batch; for ``BatchBound/immediate`` the exact count.
  public var batchSize: Int
  /// The context record layout (offsets of `act`, the stride).
  public var layout: XDPContextLayout
  /// Who calls the batch form: the engine, or a kernel with the batch
  /// patches (with its ``KernelBatchInterface/layout`` as ``layout``).
  public var convention: BatchConvention

  /// The BPF stack limit in bytes.
  public static let stackLimit = 512

  /// Configures a rewrite.
  public init(
    strategy: BatchStrategy = .default, bound: BatchBound = .default, batchSize: Int = 64,
    layout: XDPContextLayout = .engine, convention: BatchConvention = .engine
  ) {
    self.strategy = strategy
    self.bound = bound
    self.batchSize = batchSize
    self.layout = layout
    self.convention = convention
  }

  /// The rewrite for a kernel with the batch patches: its record layout
  /// and calling convention, the `end-pointer` bound its verifier checks.
  public static func kernel(_ interface: KernelBatchInterface, strategy: BatchStrategy = .default)
    -> BatchTrampoline
  {
    BatchTrampoline(
      strategy: strategy, bound: .endPointer, batchSize: 64, layout: interface.layout,
      convention: BatchConvention(kernel: interface))
  }

  /// The batch form of `program`, whose map table is `maps`: refused as
  /// ``rewrite(_:)`` refuses, then, as ``RewriteError/mapAccess(_:)``,
  /// for a use of the maps the kernel's verifier refuses
  /// (``BPF/MapAccessRules``; after the rewriter's own checks, so input
  /// that is no valid eBPF is named as such).
  public func rewrite(_ program: Program, maps: [MapDefinition]) throws(RewriteError)
    -> BatchProgram
  {
    let batch = try rewrite(program)
    if let refusal = MapAccessRules.firstRefusal(in: program.instructions, maps: maps) {
      throw .mapAccess(refusal)
    }
    return batch
  }

  /// The batch form of `program`.
  public func rewrite(_ program: Program) throws(RewriteError) -> BatchProgram {
    guard let size = Int32(exactly: batchSize), size > 0 else {
      throw .invalidBatchSize(batchSize)
    }
    guard layout.stride > 0 else { throw .invalidLayout(stride: layout.stride) }
    do {
      try InstructionValidator().validate(program.instructions)
    } catch {
      throw .invalidInstruction(error)
    }
    if let refusal = XDPInstructionRules.firstRefusal(in: program.instructions) {
      throw .refusedByVerifier(refusal)
    }
    let redirectCommit = RedirectCommit(program)
    if case .kernel(let function) = convention {
      guard bound == .endPointer else { throw .boundNotInKernel(bound) }
      if redirectCommit != .never && function == nil { throw .noCommitFunction }
    }
    let buffer = try InstructionBuffer(rewriting: program)
    let frame = StackFrameAnalysis(program)
    try Self.checkRewritable(frame, strategy: strategy)

    let depth = frame.alignedStackDepth
    // The slots go below the program's own stack; no slot of a frame
    // deeper than the kernel's has an offset to go at.
    guard depth <= Self.stackLimit else {
      throw .stackTooLarge(used: frame.stackDepth, reserved: 0)
    }
    let slots = TrampolineSlots(
      bound: bound, top: strategy == .shift ? -8 : -depth - 8, convention: convention,
      registers: TrampolineSlots.unnamedCalleeSaved(in: program.instructions))
    let reserved = slots.onStack.count * 8
    guard depth + reserved <= Self.stackLimit else {
      throw .stackTooLarge(used: frame.stackDepth, reserved: reserved)
    }
    let code = TrampolineCode(
      bound: bound, slots: slots, batchSize: size, layout: layout,
      redirectCommit: redirectCommit, convention: convention)

    let emitted: Emitted
    do {
      emitted = try emit(program, into: buffer, code: code, frame: frame, shiftingBy: reserved)
    } catch {
      throw .patchFailed(error)
    }
    let result = emitted.program
    let entry: Set<Register> = bound == .immediate ? [.r1] : [.r1, .r2]
    let loopSlots = slots.onStack
    let violations = SafetyCheck(
      entryRegisters: entry, allowedBackEdges: emitted.allowedBackEdges,
      opaqueSlots: Set(loopSlots.map(Int.init))
    ).violations(in: result)
    guard violations.isEmpty else { throw .safetyCheckFailed(violations) }

    let summary = BatchSummary(
      program: program.name, strategy: strategy.rawValue, bound: bound.rawValue,
      instructionsBefore: program.instructions.count, instructionsAfter: result.instructions.count,
      addedOnce: code.prologue.count + code.tail.count,
      addedPerPacket: code.head.count + code.epilogue.count + emitted.adjustments,
      stackBytes: strategy == .shift || reserved == 0
        ? frame.stackDepth + reserved : depth + reserved,
      loopRegisters: [slots.cursorRegister, slots.boundRegister].compactMap { $0 }.map {
        "r\($0.rawValue)"
      })
    let epilogue = emitted.epilogue
    let tail = epilogue + code.epilogue.count
    return BatchProgram(
      program: result, summary: summary, originalLocations: emitted.originalLocations,
      layout: BatchProgram.Layout(
        prologue: 0..<code.prologue.count,
        head: code.prologue.count..<(code.prologue.count + code.head.count),
        epilogue: epilogue..<tail,
        tail: tail..<(tail + code.tail.count), slots: slots))
  }

  /// The rewritten program before it is checked.
  private struct Emitted {
    var program: Program
    var epilogue: Int
    var adjustments: Int
    var allowedBackEdges: Set<ControlFlowEdge>
    var originalLocations: [Int?]
  }

  private func emit(
    _ program: Program, into buffer: InstructionBuffer, code: TrampolineCode,
    frame: StackFrameAnalysis, shiftingBy reserved: Int
  ) throws(PatchError) -> Emitted {
    var buffer = buffer
    let adjustments =
      strategy == .shift && reserved > 0 ? try Self.shiftFrame(&buffer, frame, by: reserved) : 0
    try buffer.insert(code.prologue + code.head, at: 0, landing: .onOriginal)
    let end = buffer.location(ofOriginal: program.mainLength) ?? buffer.count
    let epilogue = try buffer.routeExits(frame.mainExits, into: code.epilogue + code.tail, at: end)
    let tail = epilogue + code.epilogue.count
    let firstInstruction = buffer.location(ofOriginal: 0) ?? epilogue
    let loopStart = code.head.isEmpty ? firstInstruction : code.prologue.count
    try buffer.retarget(at: epilogue + code.backEdge, to: loopStart)
    if let test = code.emptyBatchTest { try buffer.retarget(at: test, to: tail) }
    if let test = code.paddingTest {
      try buffer.retarget(at: code.prologue.count + test, to: epilogue + code.step)
    }
    let loop = ControlFlowEdge(from: epilogue + code.backEdge, to: loopStart)
    return Emitted(
      program: buffer.relinked(program, mainLength: tail + code.tail.count),
      epilogue: epilogue, adjustments: adjustments,
      allowedBackEdges: Self.movedBackEdges(frame.graph, buffer, fallback: epilogue).union([loop]),
      originalLocations: buffer.originalLocations(count: program.instructions.count))
  }

  /// Refuses what cannot be batched or cannot be proven safe.
  static func checkRewritable(
    _ frame: StackFrameAnalysis, strategy: BatchStrategy
  ) throws(RewriteError) {
    if let call = frame.tailCalls.first { throw .tailCall(index: call) }
    guard !frame.mainExits.isEmpty else { throw .noMainExit }
    if let hazard = frame.hazards.first { throw .unprovableStack(hazard) }
  }

  /// Moves every main-frame access and R10-derived pointer down by
  /// `bytes`: accesses based on R10 get a lower offset; each `rX = r10`
  /// gets `rX += -bytes`, folded into the `rX += c` that clang emits right
  /// after it when nothing else jumps there.
  ///
  /// - Returns: how many instructions it inserted.
  static func shiftFrame(
    _ buffer: inout InstructionBuffer, _ frame: StackFrameAnalysis, by bytes: Int
  ) throws(PatchError) -> Int {
    // Same-size replacements move nothing: the locations hold for the loop.
    let locations = buffer.originalLocations(count: frame.graph.instructions.count)
    for access in frame.accesses where access.isDirect {
      guard let location = locations[access.index] else { continue }
      var moved = buffer.instructions[location]
      moved.offset = Int16(access.offset - bytes)
      try buffer.replace(at: location, with: [moved])
    }
    // Copies go in instruction order and each insertion lands right after
    // its copy, so an original slot has moved by the insertions made so far.
    var inserted = 0
    let graph = frame.graph
    let instructions = graph.instructions
    for copy in frame.framePointerCopies {
      guard let location = locations[copy].map({ $0 + inserted }) else { continue }
      let register = instructions[copy].dst
      let next = copy + 1
      if instructions.indices.contains(next),
        instructions[next] == .add(register, immediate: instructions[next].immediate),
        graph.predecessorStarts[next + 1] - graph.predecessorStarts[next] == 1,
        graph.predecessorSources[graph.predecessorStarts[next]] == copy,
        let folded = Int32(exactly: Int(instructions[next].immediate) - bytes),
        let nextLocation = locations[next].map({ $0 + inserted })
      {
        try buffer.replace(at: nextLocation, with: [.add(register, immediate: folded)])
      } else {
        try buffer.insert(
          [.add(register, immediate: Int32(-bytes))], at: location + 1, landing: .onOriginal)
        inserted += 1
      }
    }
    return inserted
  }

  /// The input's own loops, in the rewritten program's indices.
  static func movedBackEdges(
    _ graph: ControlFlowGraph, _ buffer: InstructionBuffer, fallback: Int
  ) -> Set<ControlFlowEdge> {
    Set(
      graph.backEdges().map {
        ControlFlowEdge(
          from: buffer.location(ofOriginal: $0.from) ?? fallback,
          to: buffer.location(ofOriginal: $0.to) ?? fallback)
      })
  }
}
