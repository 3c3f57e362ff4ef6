import BPF

/// The analysis states on the two edges of a conditional jump: the
/// scalars it compares narrowed by the comparison's outcome, as the
/// kernel verifier narrows them; nil on an edge no value can take.
struct BranchStates {
  /// The jump's target and its state (nil: never taken).
  var target: Int
  var taken: FrameState?
  /// The state falling through (nil: never falls through).
  var fallThrough: FrameState?
  /// Whether the block ends in something other than a conditional jump:
  /// every successor gets ``taken``.
  var isConditional: Bool

  /// The state on the edge from `last` to `next`; nil when that edge
  /// cannot be taken.
  func state(to next: Int, from last: Int) -> FrameState? {
    guard isConditional else { return taken }
    switch (next == target, next == last + 1) {
    case (true, true):
      guard let taken else { return fallThrough }
      return fallThrough.map { taken.joined(with: $0) } ?? taken
    case (true, false): return taken
    default: return fallThrough
    }
  }
}

extension StackFrameAnalysis {
  static func branchStates(
    at index: Int, _ instructions: [Instruction], _ state: FrameState
  ) -> BranchStates {
    let instruction = instructions[index]
    let unconditional = BranchStates(
      target: index, taken: state, fallThrough: state, isConditional: false)
    guard instruction.instructionClass == .jmp || instruction.instructionClass == .jmp32,
      let operation = instruction.jumpOperation, operation.isConditional
    else { return unconditional }
    let wide = instruction.instructionClass == .jmp
    let byRegister = instruction.operandSource == .register
    let left = state[instruction.dst]
    let right: FrameValue =
      byRegister
      ? state[instruction.src]
      : .scalar(
        .constant(
          wide
            ? UInt64(bitPattern: Int64(instruction.immediate))
            : UInt64(UInt32(bitPattern: instruction.immediate))))
    guard Self.isNarrowable(left), Self.isNarrowable(right) else { return unconditional }

    func edge(_ holds: Bool) -> FrameState? {
      let (a, b) = ScalarRange.narrowed(
        operation, left.range, right.range, holds: holds, wide: wide)
      if a.isEmpty || b.isEmpty { return nil }
      var result = state
      if a != left.range { result[instruction.dst] = .scalar(a) }
      if byRegister, b != right.range { result[instruction.src] = .scalar(b) }
      return result
    }
    return BranchStates(
      target: index + 1 + Int(instruction.offset), taken: edge(true), fallThrough: edge(false),
      isConditional: true)
  }

  /// Scalars, and values whose range is not tracked but that are not frame
  /// pointers; comparing frame pointers narrows nothing.
  private static func isNarrowable(_ value: FrameValue) -> Bool {
    switch value {
    case .scalar, .other: true
    default: false
    }
  }
}

extension FrameState {
  /// `self` (a loop head's grown state) with every value that is still
  /// growing since `old` given up: scalars become untracked, frame
  /// offsets unbounded, so that the next join changes nothing.
  func widened(from old: FrameState) -> FrameState {
    var result = self
    func widen(_ value: FrameValue, _ before: FrameValue) -> FrameValue {
      guard value != before else { return value }
      switch value {
      case .scalar: return .other
      case .variableFrame:
        let limit = FrameValue.offsetLimit << 8
        return .variableFrame(lower: -limit, upper: limit)
      default: return value
      }
    }
    for number in 0..<Self.registerCount {
      result[number] = widen(self[number], old[number])
    }
    for (offset, value) in slots {
      result.slots[offset] = widen(value, old.slots[offset] ?? .undefined)
    }
    return result
  }
}

extension FrameState {
  /// Whether every register and slot that may point into the frame holds
  /// the same value in both states (scalars may differ): states the
  /// analysis joins rather than keeps apart.
  func hasSameFramePointers(as other: FrameState) -> Bool {
    for number in 0..<Self.registerCount {
      let (a, b) = (self[number], other[number])
      if (a.mayPointIntoFrame || b.mayPointIntoFrame) && a != b { return false }
    }
    for (offset, value) in slots where value.mayPointIntoFrame {
      if other.slots[offset] != value { return false }
    }
    for (offset, value) in other.slots where value.mayPointIntoFrame {
      if slots[offset] != value { return false }
    }
    return true
  }
}
