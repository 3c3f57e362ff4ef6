import BPF
import Synchronization

/// The dataflow of ``StackFrameAnalysis`` over one function of a linked
/// program: the main program, or a subprogram called with pointers into
/// the main frame (``CalleeAnalyses``). States live at block entries
/// only; inside a block one state is carried along.
struct FrameSolver: Sendable {
  let graph: ControlFlowGraph
  /// The function's slots.
  let range: Range<Int>
  /// What the walk of this function records (its configuration: main
  /// frame or callee, the batch loop's slots, the callee analyses).
  let template: StackFrameAnalysis.Facts
  /// The first block of the function.
  private let firstBlock: Int
  /// The states at the start of each block of the function (none: not
  /// reached), one per set of frame pointer values
  /// (``FrameState/hasSameFramePointers(as:)``).
  private(set) var blockEntryStates: [[FrameState]]

  init(graph: ControlFlowGraph, range: Range<Int>, template: StackFrameAnalysis.Facts) {
    self.graph = graph
    self.range = range
    self.template = template
    guard !range.isEmpty else {
      firstBlock = 0
      blockEntryStates = []
      return
    }
    firstBlock = graph.block(containing: range.lowerBound)
    let lastBlock = graph.block(containing: range.upperBound - 1)
    blockEntryStates = Array(repeating: [], count: lastBlock - firstBlock + 1)
  }

  /// The states kept at the start of `block` (a block number of the graph).
  func entryStates(ofBlock block: Int) -> [FrameState] {
    let local = block - firstBlock
    return local >= 0 && local < blockEntryStates.count ? blockEntryStates[local] : []
  }

  /// Takes the lowest-numbered block whose entry states changed until
  /// none is left: a loop (a jump back to a lower block) is taken again
  /// and again until it is stable before the blocks after it are walked,
  /// which then see only its final states. The states it hands on while
  /// it grows are still merged where they arrive (the same joins, the same
  /// widening counts); only the walks of the blocks after it wait. A call
  /// after a loop whose values grow for hundreds of turns before they
  /// widen is so analysed once, not once per turn (each turn's state was a
  /// new entry for ``CalleeAnalyses``: 1,041 callee solves and 9.6 s for
  /// `Fuzz/Findings/slow-callee-analysis.bin`).
  ///
  /// States that reach a block with the same frame pointers are joined;
  /// states with different frame pointers stay apart (up to
  /// ``StackFrameAnalysis/separateStates``), as the verifier keeps its
  /// paths apart: a loop that steps a stack pointer while counting keeps
  /// the pointer and the counter of each turn together, so the loop's
  /// exit test ends it.
  mutating func solve(entry: FrameState) {
    let blockCount = blockEntryStates.count
    guard blockCount > 0 else { return }
    blockEntryStates[0] = [entry]
    var dirty = [Set<Int>](repeating: [], count: blockCount)
    var changes = [Int](repeating: 0, count: blockCount)
    dirty[0] = [0]
    var scratch = template
    // The lowest dirty block: no block below it is dirty.
    var next: Int? = 0
    while let local = next {
      let variants = dirty[local].sorted()
      dirty[local] = []
      var lowest = local + 1
      for variant in variants where variant < blockEntryStates[local].count {
        var state = blockEntryStates[local][variant]
        guard let last = walk(local + firstBlock, &state, &scratch) else { continue }
        scratch.removeAll()
        let branch = StackFrameAnalysis.branchStates(at: last, graph.instructions, state)
        for edge in graph.successorStarts[last]..<graph.successorStarts[last + 1] {
          let successor = graph.successorTargets[edge]
          guard range.contains(successor), let state = branch.state(to: successor, from: last)
          else { continue }
          let target = graph.block(containing: successor) - firstBlock
          guard let changed = merge(state, into: target, changes: &changes[target]) else {
            continue
          }
          if changed.collapsed { dirty[target] = [] }
          dirty[target].insert(changed.variant)
          lowest = min(lowest, target)
        }
      }
      next = (lowest..<blockCount).first { !dirty[$0].isEmpty }
    }
  }

  /// Adds `state` to the entry states of local block `block`; returns
  /// which variant changed (and whether the variants were collapsed into
  /// one), nil if nothing changed.
  private mutating func merge(_ state: FrameState, into block: Int, changes: inout Int)
    -> (variant: Int, collapsed: Bool)?
  {
    var states = blockEntryStates[block]
    if let index = states.firstIndex(where: { $0.hasSameFramePointers(as: state) }) {
      var merged = states[index].joined(with: state)
      guard merged != states[index] else { return nil }
      changes += 1
      if changes > StackFrameAnalysis.wideningThreshold {
        merged = merged.widened(from: states[index])
      }
      blockEntryStates[block][index] = merged
      return (index, false)
    }
    if states.count < StackFrameAnalysis.separateStates {
      blockEntryStates[block].append(state)
      return (states.count, false)
    }
    states.append(state)
    var merged = states.dropFirst().reduce(states[0]) { $0.joined(with: $1) }
    changes += 1
    if changes > StackFrameAnalysis.wideningThreshold { merged = merged.widened(from: states[0]) }
    blockEntryStates[block] = [merged]
    return (0, true)
  }

  /// Applies the transfer of every instruction of `block` (a block number
  /// of the graph) that belongs to the function; returns the last one,
  /// nil if none does.
  func walk(
    _ block: Int, _ state: inout FrameState, _ facts: inout StackFrameAnalysis.Facts
  ) -> Int? {
    var slot = max(graph.blockStarts[block], range.lowerBound)
    var last: Int?
    let end = min(graph.blockRange(block).upperBound, range.upperBound)
    while slot < end {
      StackFrameAnalysis.transfer(slot, graph.instructions, &state, &facts)
      last = slot
      slot += graph.instructions[slot].isWideImmediateLoad ? 2 : 1
    }
    return last
  }

  /// Walks every kept entry state once more and records what the
  /// function does; for a callee, also the state at its exits (joined).
  func collect() -> (facts: StackFrameAnalysis.Facts, exit: FrameState?) {
    var facts = template
    var exit: FrameState?
    for local in blockEntryStates.indices {
      for entry in blockEntryStates[local] {
        var state = entry
        guard let last = walk(local + firstBlock, &state, &facts) else { continue }
        if graph.instructions[last].isExit {
          exit = exit.map { $0.joined(with: state) } ?? state
        }
      }
    }
    return (facts, exit)
  }
}

/// The effect of calling a subprogram with pointers into the main frame,
/// analysed per call site as the verifier checks a callee for each caller
/// state: the callee's own frame is not the main frame (its R10 is
/// untracked), R1–R5 hold the caller's values, R6–R9 are not initialised
/// (`init_func_state`), and the main frame's slots are the caller's, so
/// every byte the callee reaches through the pointers is an access of the
/// main frame. Nested calls are analysed the same way, up to the
/// verifier's eight frames (which also ends a recursion, which the
/// verifier refuses).
///
/// Effects are kept per call site state; the cache is shared by every
/// copy of the analysis (computing outside its lock: two threads at worst
/// compute the same effect twice).
final class CalleeAnalyses: Sendable {
  /// What one call does to the main frame.
  struct Effect: Sendable {
    /// Accesses, helper arguments and hazards of the callee (and its
    /// callees), at their own instruction indices.
    var facts: StackFrameAnalysis.Facts
    /// The state at the callee's exits, joined (nil: it never returns).
    var exit: FrameState?
  }

  private struct Key: Hashable {
    var start: Int
    var depth: Int
    var entry: FrameState
  }

  let graph: ControlFlowGraph
  let opaqueSlots: Set<Int>
  private let effects = Mutex<[Key: Effect]>([:])
  private let solves = Mutex(0)

  /// How many times a callee's dataflow was solved (for tests: the work
  /// the cache saves).
  var solveCount: Int { solves.withLock { $0 } }

  init(graph: ControlFlowGraph, opaqueSlots: Set<Int>) {
    self.graph = graph
    self.opaqueSlots = opaqueSlots
  }

  /// The effect of the call at `call` from a function `depth` frames
  /// deep, with the caller's `state`; nil when it cannot be bounded (past
  /// eight frames, a target that is no function).
  func effect(ofCallAt call: Int, from state: FrameState, depth: Int) -> Effect? {
    guard depth + 1 < StackFrameAnalysis.frameLimit,
      let start = graph.callTarget(ofInstruction: call), start > 0
    else { return nil }
    let end = graph.entries.first { $0 > start } ?? graph.instructions.count
    var entry = state
    for register in [Register.r0, .r6, .r7, .r8, .r9] { entry[register] = .undefined }
    entry[.r10] = .other
    let key = Key(start: start, depth: depth + 1, entry: entry)
    if let known = effects.withLock({ $0[key] }) { return known }
    var template = StackFrameAnalysis.Facts(opaqueSlots: opaqueSlots)
    template.callees = self
    template.depth = depth + 1
    template.isMainFrame = false
    var solver = FrameSolver(graph: graph, range: start..<end, template: template)
    solves.withLock { $0 += 1 }
    solver.solve(entry: entry)
    var (facts, exit) = solver.collect()
    // The cache must not hold the analyses that hold it: that cycle kept
    // every analysis of a program with such a call alive (LeakSanitizer,
    // make fuzz).
    facts.callees = nil
    let effect = Effect(facts: facts, exit: exit)
    effects.withLock { $0[key] = effect }
    return effect
  }
}
