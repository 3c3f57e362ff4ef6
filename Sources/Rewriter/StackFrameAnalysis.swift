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
/// depth. Pointers passed to *bpf-to-bpf calls* are a hazard: the callee may
/// reach any byte of this frame through them, which an intraprocedural
/// analysis cannot bound (``StackHazard/passedToSubprogram(index:register:)``).
/// Subprograms keep their own frames, which are not analyzed here.
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
  private var statesBefore: [FrameState?]

  /// Analyzes the main frame of `program`. `entryRegisters` are defined at
  /// entry besides R10 (R1, the context; a batch program also has R2).
  public init(_ program: Program, entryRegisters: Set<Register> = [.r1]) {
    let instructions = program.instructions
    let mainLength = min(program.mainLength, instructions.count)
    let graph = ControlFlowGraph(instructions, subprogramStarts: program.subprograms.map(\.start))
    self.graph = graph
    let slots = instructions.indices.filter { !graph.isSecondSlot[$0] }
    mainExits = slots.filter { $0 < mainLength && instructions[$0].isExit }
    subprogramExits = slots.filter { $0 >= mainLength && instructions[$0].isExit }
    tailCalls = slots.filter {
      instructions[$0].isHelperCall
        && instructions[$0].immediate == HelperFunction.tailCall.rawValue
    }
    statesBefore = Array(repeating: nil, count: instructions.count)
    guard mainLength > 0 else { return }
    solve(entry: FrameState(entry: entryRegisters), mainLength: mainLength)
    collectFacts(mainLength: mainLength)
  }

  /// The deepest byte the main frame uses, as a non-positive offset from R10.
  public var deepestOffset: Int {
    min(0, (accesses.map(\.offset) + helperArguments.map(\.offset)).min() ?? 0)
  }

  /// Bytes of stack the main frame uses (`-deepestOffset`).
  public var stackDepth: Int { -deepestOffset }

  /// Whether any hazard is a variable offset.
  public var hasVariableOffset: Bool {
    hazards.contains { if case .variableOffset = $0 { true } else { false } }
  }

  /// The analysis state before the instruction at `index`, or nil if it is
  /// not reached in the main program.
  public func state(before index: Int) -> FrameState? {
    statesBefore.indices.contains(index) ? statesBefore[index] : nil
  }

  /// Forward sweeps in instruction order until nothing changes: a state
  /// that changes ahead of the sweep is taken in the same sweep, one behind
  /// it (a loop) in the next.
  private mutating func solve(entry: FrameState, mainLength: Int) {
    statesBefore[0] = entry
    var dirty = [Bool](repeating: false, count: mainLength)
    dirty[0] = true
    var scratch = Facts()
    var sweepAgain = true
    while sweepAgain {
      sweepAgain = false
      for index in 0..<mainLength where dirty[index] {
        dirty[index] = false
        guard var state = statesBefore[index] else { continue }
        Self.transfer(index, graph.instructions, &state, &scratch)
        for next in graph.successors(ofInstruction: index) where next < mainLength {
          let merged = statesBefore[next].map { $0.joined(with: state) } ?? state
          if merged != statesBefore[next] {
            statesBefore[next] = merged
            dirty[next] = true
            if next <= index { sweepAgain = true }
          }
        }
      }
      scratch = Facts()
    }
  }

  private mutating func collectFacts(mainLength: Int) {
    var facts = Facts()
    for index in 0..<mainLength {
      guard var state = statesBefore[index] else { continue }
      Self.transfer(index, graph.instructions, &state, &facts)
    }
    accesses = facts.accesses
    framePointerCopies = facts.framePointerCopies
    helperArguments = facts.helperArguments
    var seen: Set<StackHazard> = []
    hazards = facts.hazards.filter { seen.insert($0).inserted }
  }
}

extension StackFrameAnalysis {
  /// What one pass over the instructions records.
  struct Facts {
    var accesses: [Access] = []
    var framePointerCopies: [Int] = []
    var helperArguments: [HelperArgument] = []
    var hazards: [StackHazard] = []
  }
}
