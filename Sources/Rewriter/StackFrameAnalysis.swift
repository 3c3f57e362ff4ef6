import BPF

/// What a program does with its main stack frame, found by dataflow over
/// the control-flow graph: every access relative to R10, every register
/// and spilled slot that holds R10 plus a constant, the deepest byte used,
/// and everything that cannot be proven (``hazards``).
///
/// Values are tracked through 64-bit moves, additions and subtractions of
/// constants, and 8-byte spills and fills. Where paths disagree the value
/// becomes unknown (``FrameValue/joined(with:)``).
///
/// Pointers passed to *helpers* are fine: a helper reads or writes upward
/// from the pointer, so the pointer's own offset counts as a use of that
/// depth. Pointers passed to *bpf-to-bpf calls* are followed into the
/// callee, per call site, as the verifier checks a callee for each caller
/// state (``CalleeAnalyses``): every byte it reaches through them is an
/// access of the main frame, at the callee's instruction index. Only a
/// callee that cannot be bounded (past eight frames, recursive) is a
/// hazard (``StackHazard/passedToSubprogram(index:register:)``).
/// Subprograms keep their own frames, which are not the main frame.
public struct StackFrameAnalysis: Sendable {
  /// One load, store or atomic operation on the main frame.
  public struct Access: Hashable, Sendable {
    /// The instruction.
    public var index: Int
    /// The first byte, relative to R10.
    public var offset: Int
    /// The width in bytes.
    public var size: Int
    /// Whether the base register is R10 itself (the offset is then the
    /// instruction's own `offset` field).
    public var isDirect: Bool
  }

  /// A pointer into the frame passed to a helper call.
  public struct HelperArgument: Hashable, Sendable {
    /// The call instruction.
    public var index: Int
    /// The argument register.
    public var register: Register
    /// The pointer's offset from R10.
    public var offset: Int
  }

  /// Every access to the main frame, in instruction order.
  public private(set) var accesses: [Access] = []
  /// Every `rX = r10` (64-bit move) in the main program.
  public private(set) var framePointerCopies: [Int] = []
  /// Every frame pointer passed to a helper.
  public private(set) var helperArguments: [HelperArgument] = []
  /// What the analysis cannot prove, in instruction order.
  public private(set) var hazards: [StackHazard] = []
  /// The `exit` instructions of the main program.
  public let mainExits: [Int]
  /// The `exit` instructions of subprograms (returns to a caller).
  public let subprogramExits: [Int]
  /// Every call of `bpf_tail_call`, in the main program or a subprogram.
  public let tailCalls: [Int]
  /// The control-flow graph the analysis ran on.
  public let graph: ControlFlowGraph
  /// The main program's dataflow: the states at the start of its blocks,
  /// from which states inside a block are replayed.
  private var main: FrameSolver
  private let mainLength: Int
  /// The facts' configuration: the batch loop's opaque slots and the
  /// callee analyses (shared with every walk).
  private let template: Facts
  /// The analyses of callees this analysis made (for tests).
  var calleeAnalyses: CalleeAnalyses? { template.callees }

  /// Analyzes the main frame of `program`. `entryRegisters` are defined at
  /// entry besides R10 (R1, the context; a batch program also has R2).
  public init(_ program: Program, entryRegisters: Set<Register> = [.r1]) {
    let graph = ControlFlowGraph(
      program.instructions, subprogramStarts: program.subprograms.map(\.start))
    self.init(program, graph: graph, entryRegisters: entryRegisters)
  }

  /// Analyzes `program` on a graph already built from its instructions.
  ///
  /// Values stored in `opaqueSlots` (offsets from R10) are not tracked:
  /// a batch loop's own counters, which would otherwise grow one turn at
  /// a time through the whole program.
  init(
    _ program: Program, graph: ControlFlowGraph, entryRegisters: Set<Register>,
    opaqueSlots: Set<Int> = []
  ) {
    let instructions = program.instructions
    let mainLength = min(program.mainLength, instructions.count)
    self.graph = graph
    var mainExits: [Int] = []
    var subprogramExits: [Int] = []
    var tailCalls: [Int] = []
    for index in instructions.indices where !graph.isSecondSlot[index] {
      let instruction = instructions[index]
      if instruction.isExit {
        if index < mainLength { mainExits.append(index) } else { subprogramExits.append(index) }
      } else if instruction.isHelperCall
        && instruction.immediate == HelperFunction.tailCall.rawValue
      {
        tailCalls.append(index)
      }
    }
    self.mainExits = mainExits
    self.subprogramExits = subprogramExits
    self.tailCalls = tailCalls
    self.mainLength = mainLength
    var template = Facts(opaqueSlots: opaqueSlots)
    template.callees = CalleeAnalyses(graph: graph, opaqueSlots: opaqueSlots)
    self.template = template
    main = FrameSolver(graph: graph, range: 0..<mainLength, template: template)
    guard mainLength > 0 else { return }
    main.solve(entry: FrameState(entry: entryRegisters))
    collectFacts()
  }

  /// The deepest byte the main frame uses, as a non-positive offset from R10.
  public var deepestOffset: Int {
    min(0, (accesses.map(\.offset) + helperArguments.map(\.offset)).min() ?? 0)
  }

  /// Bytes of stack the main frame uses (`-deepestOffset`).
  public var stackDepth: Int { -deepestOffset }

  /// ``stackDepth`` rounded up to whole 8-byte slots: where slots that the
  /// rewriter reserves below the program's own use begin.
  public var alignedStackDepth: Int { (stackDepth + 7) / 8 * 8 }

  /// Whether any hazard is a variable offset that could not be bounded.
  public var hasVariableOffset: Bool {
    hazards.contains { if case .variableOffset = $0 { true } else { false } }
  }

  /// The analysis state before the instruction at `index`, or nil if it is
  /// not reached in the main program.
  public func state(before index: Int) -> FrameState? {
    guard index >= 0, index < mainLength, !graph.isSecondSlot[index] else { return nil }
    let entries = main.entryStates(ofBlock: graph.block(containing: index))
    guard let first = entries.first else { return nil }
    var state = entries.dropFirst().reduce(first) { $0.joined(with: $1) }
    var scratch = template
    var slot = graph.blockStarts[graph.block(containing: index)]
    while slot < index {
      Self.transfer(slot, graph.instructions, &state, &scratch)
      slot += graph.instructions[slot].isWideImmediateLoad ? 2 : 1
    }
    return state
  }

  /// How many states with different frame pointers a block keeps apart
  /// before they are joined into one.
  static let separateStates = 64

  /// How many times a block's entry state may grow before the values
  /// still growing give up their bounds, so that every loop converges:
  /// enough for a loop over the whole 512-byte stack, one byte a turn.
  static let wideningThreshold = 520

  /// The most frames a call chain has, the main program's included (the
  /// verifier's `MAX_CALL_FRAMES`).
  static let frameLimit = 8

  private mutating func collectFacts() {
    let facts = main.collect().facts
    // A block walked once per kept-apart state records its facts once each.
    var seenAccesses: Set<Access> = []
    accesses = facts.accesses.filter { seenAccesses.insert($0).inserted }
    framePointerCopies = Array(Set(facts.framePointerCopies)).sorted()
    var seenArguments: Set<HelperArgument> = []
    helperArguments = facts.helperArguments.filter { seenArguments.insert($0).inserted }
    var seen: Set<StackHazard> = []
    hazards = facts.hazards.filter { seen.insert($0).inserted }
  }
}

extension StackFrameAnalysis {
  /// What one pass over the instructions records.
  struct Facts: Sendable {
    /// Slots whose stored values are not tracked (not cleared by ``removeAll()``).
    var opaqueSlots: Set<Int> = []
    /// The analyses of callees that get pointers into the main frame.
    var callees: CalleeAnalyses?
    /// Frames below the main program's (0: the main program).
    var depth = 0
    /// Whether R10 is the main frame's pointer (false in a callee, whose
    /// own frame is not analysed).
    var isMainFrame = true
    var accesses: [Access] = []
    var framePointerCopies: [Int] = []
    var helperArguments: [HelperArgument] = []
    var hazards: [StackHazard] = []

    mutating func append(_ other: Facts) {
      accesses += other.accesses
      helperArguments += other.helperArguments
      hazards += other.hazards
    }

    mutating func removeAll() {
      accesses.removeAll(keepingCapacity: true)
      framePointerCopies.removeAll(keepingCapacity: true)
      helperArguments.removeAll(keepingCapacity: true)
      hazards.removeAll(keepingCapacity: true)
    }
  }
}
