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
  /// The states at the start of each block of ``graph`` (none: not
  /// reached in the main program), one per set of frame pointer values
  /// (``FrameState/hasSameFramePointers(as:)``); states inside a block are
  /// replayed from them.
  private var blockEntryStates: [[FrameState]]
  private let mainLength: Int
  private let opaqueSlots: Set<Int>

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
    self.opaqueSlots = opaqueSlots
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
    blockEntryStates = Array(repeating: [], count: graph.blockStarts.count)
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
    guard index >= 0, index < mainLength, !graph.isSecondSlot[index],
      let first = blockEntryStates[graph.block(containing: index)].first
    else { return nil }
    var state = blockEntryStates[graph.block(containing: index)].dropFirst().reduce(first) {
      $0.joined(with: $1)
    }
    var scratch = Facts(opaqueSlots: opaqueSlots)
    var slot = graph.blockStarts[graph.block(containing: index)]
    while slot < index {
      Self.transfer(slot, graph.instructions, &state, &scratch)
      slot += graph.instructions[slot].isWideImmediateLoad ? 2 : 1
    }
    return state
  }

  /// Forward sweeps over the blocks in instruction order until nothing
  /// changes: a block whose entry states change ahead of the sweep is
  /// taken in the same sweep, one behind it (a loop) in the next. Only
  /// block entries keep states; inside a block one state is carried along.
  ///
  /// States that reach a block with the same frame pointers are joined;
  /// states with different frame pointers stay apart (up to
  /// ``separateStates``), as the verifier keeps its paths apart: a loop
  /// that steps a stack pointer while counting keeps the pointer and the
  /// counter of each turn together, so the loop's exit test ends it.
  private mutating func solve(entry: FrameState, mainLength: Int) {
    let blockCount = graph.blockStarts.count
    blockEntryStates[0] = [entry]
    var dirty = [Set<Int>](repeating: [], count: blockCount)
    var changes = [Int](repeating: 0, count: blockCount)
    dirty[0] = [0]
    var scratch = Facts(opaqueSlots: opaqueSlots)
    var sweepAgain = true
    while sweepAgain {
      sweepAgain = false
      for block in 0..<blockCount where !dirty[block].isEmpty {
        let variants = dirty[block].sorted()
        dirty[block] = []
        for variant in variants where variant < blockEntryStates[block].count {
          var state = blockEntryStates[block][variant]
          guard let last = walk(block, &state, &scratch) else { continue }
          scratch.removeAll()
          let branch = Self.branchStates(at: last, graph.instructions, state)
          for edge in graph.successorStarts[last]..<graph.successorStarts[last + 1] {
            let next = graph.successorTargets[edge]
            guard next < mainLength, let state = branch.state(to: next, from: last) else {
              continue
            }
            let target = graph.block(containing: next)
            guard let changed = merge(state, into: target, changes: &changes[target]) else {
              continue
            }
            if changed.collapsed { dirty[target] = [] }
            dirty[target].insert(changed.variant)
            if target <= block { sweepAgain = true }
          }
        }
      }
    }
  }

  /// How many states with different frame pointers a block keeps apart
  /// before they are joined into one.
  static let separateStates = 64

  /// Adds `state` to the entry states of `block`; returns which variant
  /// changed (and whether the variants were collapsed into one), nil if
  /// nothing changed.
  private mutating func merge(_ state: FrameState, into block: Int, changes: inout Int)
    -> (variant: Int, collapsed: Bool)?
  {
    var states = blockEntryStates[block]
    if let index = states.firstIndex(where: { $0.hasSameFramePointers(as: state) }) {
      var merged = states[index].joined(with: state)
      guard merged != states[index] else { return nil }
      changes += 1
      if changes > Self.wideningThreshold { merged = merged.widened(from: states[index]) }
      blockEntryStates[block][index] = merged
      return (index, false)
    }
    if states.count < Self.separateStates {
      blockEntryStates[block].append(state)
      return (states.count, false)
    }
    states.append(state)
    var merged = states.dropFirst().reduce(states[0]) { $0.joined(with: $1) }
    changes += 1
    if changes > Self.wideningThreshold { merged = merged.widened(from: states[0]) }
    blockEntryStates[block] = [merged]
    return (0, true)
  }

  /// How many times a block's entry state may grow before the values
  /// still growing give up their bounds, so that every loop converges:
  /// enough for a loop over the whole 512-byte stack, one byte a turn.
  static let wideningThreshold = 520

  /// Applies the transfer of every main-program instruction of `block` to
  /// `state`; returns the last instruction, nil if the block is not in the
  /// main program.
  private func walk(_ block: Int, _ state: inout FrameState, _ facts: inout Facts) -> Int? {
    var slot = graph.blockStarts[block]
    var last: Int?
    let end = min(graph.blockRange(block).upperBound, mainLength)
    while slot < end {
      Self.transfer(slot, graph.instructions, &state, &facts)
      last = slot
      slot += graph.instructions[slot].isWideImmediateLoad ? 2 : 1
    }
    return last
  }

  private mutating func collectFacts(mainLength: Int) {
    var facts = Facts(opaqueSlots: opaqueSlots)
    for block in blockEntryStates.indices {
      for entry in blockEntryStates[block] {
        var state = entry
        _ = walk(block, &state, &facts)
      }
    }
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
  struct Facts {
    /// Slots whose stored values are not tracked (not cleared by ``removeAll()``).
    var opaqueSlots: Set<Int> = []
    var accesses: [Access] = []
    var framePointerCopies: [Int] = []
    var helperArguments: [HelperArgument] = []
    var hazards: [StackHazard] = []

    mutating func removeAll() {
      accesses.removeAll(keepingCapacity: true)
      framePointerCopies.removeAll(keepingCapacity: true)
      helperArguments.removeAll(keepingCapacity: true)
      hazards.removeAll(keepingCapacity: true)
    }
  }
}
