import BPF

/// The control flow of a linked program: for every instruction, where
/// control goes next, and the basic blocks those edges form.
///
/// The graph is intraprocedural, as the kernel's `check_cfg` walks it: a
/// bpf-to-bpf call continues at the next instruction, and the callee is a
/// separate entry (reached through ``callTargets(ofInstruction:)``). The
/// second slot of an `ld_imm64` is never a node.
///
/// Edges are stored flat (compressed sparse rows: one array of targets and
/// one of where each instruction's run starts), so building the graph of a
/// program of n instructions takes a handful of allocations, not 2n.
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
  /// Index 0 and the first instruction of every subprogram: where a frame
  /// starts.
  public let entries: [Int]
  /// For each slot, whether it is the second slot of an `ld_imm64`.
  public let isSecondSlot: [Bool]
  /// Instruction `i`'s successors are `successorTargets[successorStarts[i]..<successorStarts[i + 1]]`.
  let successorStarts: [Int]
  let successorTargets: [Int]
  /// The same layout for predecessors, each run in ascending order.
  let predecessorStarts: [Int]
  let predecessorSources: [Int]
  /// The first slot of every block, in order.
  let blockStarts: [Int]
  private let blockOfInstruction: [Int]

  /// Builds the graph of `instructions`, with `subprogramStarts` as extra
  /// entries (also found from the calls themselves).
  public init(_ instructions: [Instruction], subprogramStarts: [Int] = []) {
    self.instructions = instructions
    let count = instructions.count
    let second = instructions.secondSlotMask
    isSecondSlot = second
    var isEntry = [Bool](repeating: false, count: count)
    var isLeader = [Bool](repeating: false, count: count + 1)
    for entry in [0] + subprogramStarts where entry >= 0 && entry < count {
      isEntry[entry] = true
      isLeader[entry] = true
    }
    func lead(_ index: Int) { if index >= 0 && index <= count { isLeader[index] = true } }
    var starts = [Int](repeating: 0, count: count + 1)
    var targets: [Int] = []
    targets.reserveCapacity(count + count / 4)
    for index in 0..<count {
      starts[index] = targets.count
      guard !second[index] else { continue }
      let instruction = instructions[index]
      let fallThrough = index + (instruction.isWideImmediateLoad ? 2 : 1)
      if instruction.isBranch, let target = instruction.referenceTarget(at: index) {
        lead(target)
        lead(fallThrough)
        let conditional = instruction.jumpOperation?.isConditional == true
        let first = conditional && fallThrough < count ? fallThrough : nil
        let second = target >= 0 && target < count ? target : nil
        switch (first, second) {
        case (let a?, let b?) where a == b: targets.append(a)
        case (let a?, let b?): targets += a < b ? [a, b] : [b, a]
        case (let a?, nil), (nil, let a?): targets.append(a)
        case (nil, nil): break
        }
      } else if instruction.isExit {
        lead(fallThrough)
      } else {
        if fallThrough < count { targets.append(fallThrough) }
        if let target = instruction.referenceTarget(at: index) {
          if target >= 0 && target < count { isEntry[target] = true }
          lead(target)
        }
      }
    }
    starts[count] = targets.count
    successorStarts = starts
    successorTargets = targets
    entries = isEntry.indices.filter { isEntry[$0] }

    var predecessorCounts = [Int](repeating: 0, count: count + 1)
    for target in targets { predecessorCounts[target + 1] += 1 }
    for index in 0..<count { predecessorCounts[index + 1] += predecessorCounts[index] }
    var fill = predecessorCounts
    var sources = [Int](repeating: 0, count: targets.count)
    for index in 0..<count {
      for edge in starts[index]..<starts[index + 1] {
        let target = targets[edge]
        sources[fill[target]] = index
        fill[target] += 1
      }
    }
    predecessorStarts = predecessorCounts
    predecessorSources = sources

    var blockStarts: [Int] = []
    var owner = [Int](repeating: 0, count: count)
    for index in 0..<count {
      if isLeader[index] && !second[index] { blockStarts.append(index) }
      owner[index] = blockStarts.count - 1
    }
    self.blockStarts = blockStarts
    blockOfInstruction = owner
  }

  /// The basic blocks, in instruction order.
  public var blocks: [Block] {
    var built = blockStarts.indices.map { number in
      Block(range: blockRange(number), successors: [], predecessors: [])
    }
    for number in built.indices {
      let last = lastInstruction(ofBlock: number)
      built[number].successors = successorTargets[
        successorStarts[last]..<successorStarts[last + 1]
      ].map { blockOfInstruction[$0] }
    }
    for number in built.indices {
      for successor in built[number].successors { built[successor].predecessors.append(number) }
    }
    return built
  }

  /// The slots of block `number`.
  func blockRange(_ number: Int) -> Range<Int> {
    let end = number + 1 < blockStarts.count ? blockStarts[number + 1] : instructions.count
    return blockStarts[number]..<end
  }

  /// The last instruction (not a second slot) of block `number`.
  func lastInstruction(ofBlock number: Int) -> Int {
    let last = blockRange(number).upperBound - 1
    return isSecondSlot[last] ? last - 1 : last
  }

  /// Where control can go after the instruction at `index` (empty for
  /// `exit` and for a slot that falls off the end).
  public func successors(ofInstruction index: Int) -> [Int] {
    Array(successorTargets[successorStarts[index]..<successorStarts[index + 1]])
  }

  /// The instructions that can pass control to `index` directly.
  public func predecessors(ofInstruction index: Int) -> [Int] {
    Array(predecessorSources[predecessorStarts[index]..<predecessorStarts[index + 1]])
  }

  /// The subprogram a call or a code reference at `index` names, if any.
  public func callTargets(ofInstruction index: Int) -> [Int] {
    callTarget(ofInstruction: index).map { [$0] } ?? []
  }

  /// The subprogram a call or a code reference at `index` names, if any.
  func callTarget(ofInstruction index: Int) -> Int? {
    let instruction = instructions[index]
    guard !instruction.isBranch else { return nil }
    return instruction.referenceTarget(at: index)
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
      for edge in successorStarts[index]..<successorStarts[index + 1] {
        pending.append(successorTargets[edge])
      }
      if let target = callTarget(ofInstruction: index) { pending.append(target) }
    }
    return seen
  }

  /// The edges that close a cycle in a depth-first walk from every entry,
  /// as `check_cfg` finds them: loops.
  public func backEdges() -> Set<ControlFlowEdge> {
    var state = [UInt8](repeating: 0, count: instructions.count)  // 0 new, 1 on stack, 2 done
    var edges: Set<ControlFlowEdge> = []
    for entry in entries where state[entry] == 0 {
      var stack: [(node: Int, next: Int)] = [(entry, successorStarts[entry])]
      state[entry] = 1
      while let top = stack.last {
        if top.next < successorStarts[top.node + 1] {
          stack[stack.count - 1].next += 1
          let target = successorTargets[top.next]
          if state[target] == 1 {
            edges.insert(ControlFlowEdge(from: top.node, to: target))
          } else if state[target] == 0 {
            state[target] = 1
            stack.append((target, successorStarts[target]))
          }
        } else {
          state[top.node] = 2
          stack.removeLast()
        }
      }
    }
    return edges
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
