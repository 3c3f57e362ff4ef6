/// The executed-instruction count in the JIT's code: the counter register
/// (``JITRegisters/counter``, R9) plus ``JITCompiler/pending``, a number
/// the compiler knows at each point of the code it emits (the counter's
/// lag). Instructions add to the lag, not to R9; the code adds the lag to
/// R9 only where something reads the count: a budget check (backward
/// jumps, bpf-to-bpf and tail calls), a helper call, an exit and the
/// out-of-line exits (faults, the budget error, a copy exit).
///
/// Every basic block's entry (a slot's label in one copy of the body)
/// has one lag every way in brings (``JITCompiler/enter(_:at:)``): 0
/// where the count must be exact (``CountingPlan/exactEntries``), else
/// the lag of the first jump that reaches it, which jumps there as it
/// is; the fall-through adds what differs. A forward jump whose taken
/// edge is cold (``CountingPlan/coldJumps``) keeps its lag on the
/// fall-through and reaches its target through an ``JITCompiler/Edge``:
/// `add r9, lag - entry lag; jmp target` out of line, or the target
/// itself where the lags agree. The same holds for the proven copy's
/// exits to the checked copy. So the count is exact wherever it is read,
/// on every path, as in the interpreter.
struct CountingPlan {
  /// Slots entered with the count exact: slot 0 (the prologue and tail
  /// calls enter there), the targets of backward jumps (which check the
  /// budget before they jump) and of bpf-to-bpf calls (which check it
  /// before they call).
  let exactEntries: [Bool]
  /// Forward jumps whose taken edge is taken seldom: a 64-bit unsigned
  /// `if rX > rY` or `if rX >= rY`, the form clang gives a packet bounds
  /// check (`if (p + n > data_end) goto out`), to a target more than one
  /// way leads to (the shared `out`). The fall-through (the in-bounds
  /// path, with the accesses) then pays no add at the jump; the taken
  /// edge pays a jump through an out-of-line add.
  let coldJumps: Set<Int>

  init(slots: UnsafeMutablePointer<Slot>, count: Int) {
    var exact = Array(repeating: false, count: count)
    var ways = Array(repeating: 0, count: count)
    if count > 0 { exact[0] = true }
    for index in 0..<count {
      let slot = slots[index]
      if index + 1 < count, slot.operation != .ja, slot.operation != .exit {
        ways[index + 1] += 1
      }
      guard slot.operation.isJump || slot.operation == .callLocal else { continue }
      let target = Int(slot.offset)
      guard target >= 0 && target < count else { continue }
      ways[target] += 1
      if target <= index || slot.operation == .callLocal { exact[target] = true }
    }
    var cold: Set<Int> = []
    for index in 0..<count {
      let slot = slots[index]
      let target = Int(slot.offset)
      if slot.operation == .jgtX || slot.operation == .jgeX, target > index, target < count,
        ways[target] > 1
      {
        cold.insert(index)
      }
    }
    exactEntries = exact
    coldJumps = cold
  }
}

extension JITCompiler {
  /// A jump that reaches `target` with the counter lagging by `lag`,
  /// through a correction emitted once every entry's lag is known
  /// (``emitEdges()``).
  struct Edge {
    var label: CodeLabel
    var target: CodeLabel
    var lag: Int
  }

  /// Makes the count in the counter register exact.
  mutating func flush() { flush(to: 0) }

  /// Adds to the counter register what makes its lag `lag`.
  mutating func flush(to lag: Int) {
    if pending != lag {
      a.arithmetic(digit: 0, JITRegisters.counter, immediate: Int32(pending - lag), wide: true)
    }
    pending = lag
  }

  /// At the entry of a basic block, slot `index` with `label` in the copy
  /// being emitted: fixes the lag every way in brings, unless a jump
  /// fixed it (0 at an exact entry; else the fall-through's lag, which
  /// then costs nothing; else the first edge's), and brings the
  /// fall-through's to it.
  mutating func enter(_ label: CodeLabel, at index: Int) {
    let lag: Int
    if let fixed = entryLags[label] {
      lag = fixed
    } else if counting.exactEntries[index] {
      lag = 0
    } else {
      lag = fallsThrough ? pending : firstEdgeLags[label] ?? 0
    }
    entryLags[label] = lag
    if fallsThrough { flush(to: lag) }
    pending = lag
  }

  /// The lag a jump must bring to slot `index` (`label`): fixed by the
  /// first jump there as its own lag (0 at an exact entry).
  mutating func entryLag(_ label: CodeLabel, at index: Int) -> Int {
    if let lag = entryLags[label] { return lag }
    let lag = counting.exactEntries[index] ? 0 : pending
    entryLags[label] = lag
    return lag
  }

  /// A label for a jump that reaches `target` with the counter lagging by
  /// `lag`: `target` itself where its lag is already that, else an
  /// ``Edge``.
  mutating func edge(to target: CodeLabel, lag: Int) -> CodeLabel {
    if entryLags[target] == lag { return target }
    let edge = Edge(label: a.makeLabel(), target: target, lag: lag)
    edges.append(edge)
    if firstEdgeLags[target] == nil { firstEdgeLags[target] = lag }
    return edge.label
  }

  /// A label that leaves the proven copy, at slot `index` (whose own
  /// instruction is in ``pending``), for the checked copy's slot `index`,
  /// which counts from that slot on.
  mutating func copyExit(_ index: Int) -> CodeLabel {
    edge(to: checkedLabels[index], lag: pending - 1)
  }

  /// The edges' corrections, out of line; an edge whose lag is its
  /// target's is the target.
  mutating func emitEdges() {
    for edge in edges {
      guard let lag = entryLags[edge.target] else {
        preconditionFailure("an edge to a slot that starts no basic block")
      }
      if edge.lag == lag {
        a.bind(edge.label, to: edge.target)
        continue
      }
      a.bind(edge.label)
      a.arithmetic(
        digit: 0, JITRegisters.counter, immediate: Int32(edge.lag - lag), wide: true)
      a.jump(to: edge.target)
    }
  }
}
