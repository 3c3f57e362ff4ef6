import BPF

/// The control flow of a linked program: for every instruction, where
/// control goes next, and the basic blocks those edges form.
///
/// The graph is intraprocedural, as the kernel's `check_cfg` walks it: a
/// bpf-to-bpf call continues at the next instruction, and the callee is a
/// separate entry (reached through ``callTargets(ofInstruction:)``). The
/// second slot of an `ld_imm64` is never a node.
public struct ControlFlowGraph: Sendable {
  /// A maximal straight-line run of instructions: entered only at its
  /// first slot, left only after its last.
  public struct Block: Hashable, Sendable {
    /// The slots of the block (the last may be an `ld_imm64`'s second).
    public var range: Range<Int>
    /// Indices (in ``ControlFlowGraph/blocks``) of the blocks control can
    /// go to next.
    public var successors: [Int]
    /// Indices of the blocks that can pass control to this one.
    public var predecessors: [Int]
  }

  /// The program's instructions.
  public let instructions: [Instruction]
  /// The basic blocks, in instruction order.
  public let blocks: [Block]
  /// Index 0 and the first instruction of every subprogram: where a frame
  /// starts.
  public let entries: [Int]
  private let successorLists: [[Int]]
  private let predecessorLists: [[Int]]
  private let blockOfInstruction: [Int]
  /// For each slot, whether it is the second slot of an `ld_imm64`.
  public let isSecondSlot: [Bool]

  /// Builds the graph of `instructions`, with `subprogramStarts` as extra
  /// entries (also found from the calls themselves).
  public init(_ instructions: [Instruction], subprogramStarts: [Int] = []) {
    self.instructions = instructions
    let second = instructions.secondSlotMask
    isSecondSlot = second
    var successors = [[Int]](repeating: [], count: instructions.count)
    var entrySet = Set([0] + subprogramStarts)
    var isLeader = [Bool](repeating: false, count: instructions.count + 1)
    for entry in entrySet where entry >= 0 && entry < instructions.count { isLeader[entry] = true }
    func lead(_ index: Int) { if index >= 0 && index < isLeader.count { isLeader[index] = true } }
    for index in instructions.indices where !second[index] {
      let instruction = instructions[index]
      var next: [Int] = []
      let fallThrough = index + (instruction.isWideImmediateLoad ? 2 : 1)
      if instruction.isBranch, let target = instruction.referenceTarget(at: index) {
        next = instruction.jumpOperation?.isConditional == true ? [fallThrough, target] : [target]
        lead(target)
        lead(fallThrough)
      } else if instruction.isExit {
        lead(fallThrough)
      } else {
        next = [fallThrough]
        if let target = instruction.referenceTarget(at: index) {
          entrySet.insert(target)
          lead(target)
        }
      }
      next = next.filter { instructions.indices.contains($0) }
      if next.count == 2 {
        if next[0] == next[1] { next.removeLast() } else if next[0] > next[1] { next.swapAt(0, 1) }
      }
      successors[index] = next
    }
    successorLists = successors
    var predecessors = [[Int]](repeating: [], count: instructions.count)
    for (index, list) in successors.enumerated() {
      for target in list { predecessors[target].append(index) }
    }
    predecessorLists = predecessors
    entries = entrySet.filter { instructions.indices.contains($0) }.sorted()

    let starts = instructions.indices.filter { isLeader[$0] && !second[$0] }
    var owner = [Int](repeating: 0, count: instructions.count)
    var built: [Block] = []
    for (number, start) in starts.enumerated() {
      let end = number + 1 < starts.count ? starts[number + 1] : instructions.count
      for slot in start..<end { owner[slot] = number }
      built.append(Block(range: start..<end, successors: [], predecessors: []))
    }
    for number in built.indices {
      let last = Self.lastInstruction(of: built[number].range, second: second)
      built[number].successors = successors[last].map { owner[$0] }
    }
    for number in built.indices {
      for successor in built[number].successors { built[successor].predecessors.append(number) }
    }
    blocks = built
    blockOfInstruction = owner
  }

  /// Where control can go after the instruction at `index` (empty for
  /// `exit` and for a slot that falls off the end).
  public func successors(ofInstruction index: Int) -> [Int] { successorLists[index] }

  /// The instructions that can pass control to `index` directly.
  public func predecessors(ofInstruction index: Int) -> [Int] { predecessorLists[index] }

  /// The subprogram a call or a code reference at `index` names, if any.
  public func callTargets(ofInstruction index: Int) -> [Int] {
    let instruction = instructions[index]
    guard !instruction.isBranch, let target = instruction.referenceTarget(at: index) else {
      return []
    }
    return [target]
  }

  /// The block that holds slot `index`.
  public func block(containing index: Int) -> Int { blockOfInstruction[index] }

  /// For each slot, whether control can reach it from instruction 0,
  /// following jumps, fall-through and calls.
  public func reachable() -> [Bool] {
    var seen = [Bool](repeating: false, count: instructions.count)
    var pending = instructions.isEmpty ? [] : [0]
    while let index = pending.popLast() {
      guard !seen[index] else { continue }
      seen[index] = true
      if instructions[index].isWideImmediateLoad, index + 1 < seen.count { seen[index + 1] = true }
      pending += successors(ofInstruction: index) + callTargets(ofInstruction: index)
    }
    return seen
  }

  /// The edges that close a cycle in a depth-first walk from every entry,
  /// as `check_cfg` finds them: loops.
  public func backEdges() -> Set<ControlFlowEdge> {
    var state = [UInt8](repeating: 0, count: instructions.count)  // 0 new, 1 on stack, 2 done
    var edges: Set<ControlFlowEdge> = []
    for entry in entries where state[entry] == 0 {
      var stack: [(node: Int, next: Int)] = [(entry, 0)]
      state[entry] = 1
      while let top = stack.last {
        let list = successorLists[top.node]
        if top.next < list.count {
          stack[stack.count - 1].next += 1
          let target = list[top.next]
          if state[target] == 1 {
            edges.insert(ControlFlowEdge(from: top.node, to: target))
          } else if state[target] == 0 {
            state[target] = 1
            stack.append((target, 0))
          }
        } else {
          state[top.node] = 2
          stack.removeLast()
        }
      }
    }
    return edges
  }

  private static func lastInstruction(of range: Range<Int>, second: [Bool]) -> Int {
    let last = range.upperBound - 1
    return second[last] ? last - 1 : last
  }
}

/// One edge of the control-flow graph, between instruction indices.
public struct ControlFlowEdge: Hashable, Sendable, CustomStringConvertible {
  /// The instruction control leaves.
  public var from: Int
  /// The instruction control goes to.
  public var to: Int

  /// Names an edge.
  public init(from: Int, to: Int) {
    self.from = from
    self.to = to
  }

  /// `from -> to`.
  public var description: String { "\(from) -> \(to)" }
}
