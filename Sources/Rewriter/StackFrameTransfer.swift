import BPF

// The transfer function of ``StackFrameAnalysis``: how one instruction
// changes what is known about the frame, and what it records on the way.

extension StackFrameAnalysis {
  static func transfer(
    _ index: Int, _ instructions: [Instruction], _ state: inout FrameState, _ facts: inout Facts
  ) {
    let instruction = instructions[index]
    switch instruction.instructionClass {
    case .alu, .alu64:
      arithmetic(index, instruction, &state, &facts)
    case .ld:
      if instruction.isWideImmediateLoad {
        var value = FrameValue.other
        if instruction.immediateLoadKind == .value, index + 1 < instructions.count {
          value = .scalar(.constant(instruction.wideImmediate(with: instructions[index + 1])))
        }
        define(instruction.dst, value, at: index, &state, &facts)
      } else {
        state[.r0] = .other
        for register in RegisterEffects.callerSaved { state[register] = .undefined }
      }
    case .ldx:
      let reach = frameAccess(
        index, base: instruction.src, offset: instruction.offset, instruction, state, &facts)
      let size = instruction.accessSize?.bytes ?? 8
      // A narrow zero-extending load gives a value below 2^(8 * size);
      // but a 4-byte load from outside the frame may be a context field
      // that the kernel turns into a 64-bit pointer (`data`, `data_end`),
      // so it stays untracked.
      let isNarrow = size < 4 || (size == 4 && reach != nil)
      var loaded: FrameValue =
        isNarrow && instruction.accessMode == .memory
        ? .scalar(.unsigned(0, (UInt64(1) << UInt64(8 * size)) - 1)) : .other
      if let reach, reach.isExact, instruction.accessSize == .doubleWord,
        instruction.accessMode == .memory, reach.start % 8 == 0
      {
        let spilled = state.slots[reach.start] ?? .undefined
        loaded = spilled == .undefined ? .other : spilled
      } else if let reach, state.mayHoldFramePointer(reach.start, reach.size) {
        loaded = .unknown
      }
      define(instruction.dst, loaded, at: index, &state, &facts)
    case .st:
      if let reach = frameAccess(
        index, base: instruction.dst, offset: instruction.offset, instruction, state, &facts)
      {
        let size = instruction.accessSize?.bytes ?? 8
        let constant = FrameValue.scalar(
          .constant(UInt64(bitPattern: Int64(instruction.immediate))))
        let opaque = facts.opaqueSlots.contains(reach.start)
        state.write(reach, value: size == 8 && !opaque ? constant : .other)
      }
    case .stx:
      store(index, instruction, &state, &facts)
    case .jmp, .jmp32:
      control(index, instruction, &state, &facts)
    }
  }

  private static func define(
    _ register: Register, _ value: FrameValue, at index: Int, _ state: inout FrameState,
    _ facts: inout Facts
  ) {
    if register == .r10 {
      facts.hazards.append(.framePointerWritten(index: index))
      return
    }
    state[register] = value
  }

  /// Records an access through `base`; returns the bytes it reaches when
  /// the base points into the frame with a bounded offset.
  private static func frameAccess(
    _ index: Int, base: Register, offset: Int16, _ instruction: Instruction, _ state: FrameState,
    _ facts: inout Facts
  ) -> FrameReach? {
    let size = instruction.accessSize?.bytes ?? 8
    switch state[base] {
    case .frame(let pointer):
      let start = pointer + Int(offset)
      if start < -512 || start + size > 0 {
        facts.hazards.append(.outsideFrame(index: index, offset: start, size: size))
      }
      facts.accesses.append(
        Access(index: index, offset: start, size: size, isDirect: base == .r10))
      return FrameReach(start: start, size: size, isExact: true)
    case .variableFrame(let lower, let upper):
      guard lower >= -FrameValue.offsetLimit, upper <= FrameValue.offsetLimit else {
        facts.hazards.append(.variableOffset(index: index, lower: lower, upper: upper))
        return nil
      }
      let start = lower + Int(offset)
      let span = upper - lower + size
      if start < -512 || start + span > 0 {
        facts.hazards.append(.outsideFrame(index: index, offset: start, size: span))
      }
      facts.accesses.append(Access(index: index, offset: start, size: span, isDirect: false))
      return FrameReach(start: start, size: span, isExact: false)
    case .unknown:
      facts.hazards.append(.ambiguousPointer(index: index, register: base))
    case .other, .undefined, .scalar:
      break
    }
    return nil
  }

  /// `offset + value`, saturated well beyond any offset the verifier accepts.
  static func offset(_ base: Int, plus value: Int64) -> Int {
    let limit = Int64(FrameValue.offsetLimit) << 8
    return base + Int(max(-limit, min(limit, value)))
  }

  private static func arithmetic(
    _ index: Int, _ instruction: Instruction, _ state: inout FrameState, _ facts: inout Facts
  ) {
    let wide = instruction.instructionClass == .alu64
    let byRegister = instruction.operandSource == .register
    let operation = instruction.arithmeticOperation
    let isPlainMove = wide && operation == .mov && instruction.offset == 0
    if byRegister && instruction.src == .r10 && facts.isMainFrame {
      if isPlainMove {
        facts.framePointerCopies.append(index)
      } else {
        facts.hazards.append(.framePointerRead(index: index))
      }
    }
    let target = state[instruction.dst]
    let source = byRegister ? state[instruction.src] : .other
    let constant = Int(instruction.immediate)
    let operand =
      byRegister ? source.range : ScalarRange.constant(UInt64(bitPattern: Int64(constant)))
    var result = FrameValue.other
    func escape() { facts.hazards.append(.escapes(index: index, how: .arithmetic)) }

    switch operation {
    case .mov where isPlainMove:
      result = byRegister ? source : .scalar(operand)
    case .mov:
      if byRegister && source.mayPointIntoFrame { escape() }
      if instruction.offset == 0 {
        result = .scalar(ScalarRange.apply(.mov, .unknown, operand, wide: wide))
      }
    case .add where wide, .sub where wide:
      let add = operation == .add
      if let (lower, upper) = target.offsets, !source.mayPointIntoFrame {
        // A frame pointer plus or minus a scalar: the offsets move by its range.
        let range = operand
        result =
          add
          ? .frame(
            offset(lower, plus: range.signedMinimum), offset(upper, plus: range.signedMaximum))
          : .frame(
            offset(lower, plus: -max(range.signedMaximum, -Int64.max)),
            offset(upper, plus: -max(range.signedMinimum, -Int64.max)))
      } else if add, let (lower, upper) = source.offsets, !target.mayPointIntoFrame {
        let range = target.range
        result = .frame(
          offset(lower, plus: range.signedMinimum), offset(upper, plus: range.signedMaximum))
      } else if target == .unknown || source == .unknown {
        if target.mayPointIntoFrame && source.mayPointIntoFrame && add { escape() }
        if !add && !target.mayPointIntoFrame { escape() }
        result = .unknown
      } else if target.mayPointIntoFrame && source.mayPointIntoFrame {
        if add { escape() }  // a difference of two frame pointers is a scalar
      } else if source.mayPointIntoFrame {
        escape()  // a scalar minus a frame pointer
      } else {
        result =
          operation.map { .scalar(ScalarRange.apply($0, target.range, operand, wide: true)) }
          ?? .other
      }
    default:
      if target.mayPointIntoFrame || source.mayPointIntoFrame {
        escape()
      } else if let operation {
        result = .scalar(ScalarRange.apply(operation, target.range, operand, wide: wide))
      }
    }
    define(instruction.dst, result, at: index, &state, &facts)
  }

  private static func store(
    _ index: Int, _ instruction: Instruction, _ state: inout FrameState, _ facts: inout Facts
  ) {
    let value = state[instruction.src]
    if instruction.src == .r10 && facts.isMainFrame {
      facts.hazards.append(.framePointerRead(index: index))
    }
    let reach = frameAccess(
      index, base: instruction.dst, offset: instruction.offset, instruction, state, &facts)
    let size = instruction.accessSize?.bytes ?? 8

    guard instruction.accessMode == .atomic else {
      if let reach {
        let isSpill = reach.isExact && size == 8 && reach.start % 8 == 0
        if value.mayPointIntoFrame && !isSpill {
          facts.hazards.append(
            .escapes(index: index, how: reach.isExact ? .partialSpill : .variableSpill))
        }
        let untracked =
          value == .undefined || size < 8
          || (facts.opaqueSlots.contains(reach.start) && !value.mayPointIntoFrame)
        state.write(reach, value: untracked ? .other : value)
      } else if value.mayPointIntoFrame && !state[instruction.dst].mayPointIntoFrame {
        facts.hazards.append(.escapes(index: index, how: .storedOutsideFrame))
      }
      return
    }
    let touchesSpill = reach.map { state.mayHoldFramePointer($0.start, $0.size) } ?? false
    if value.mayPointIntoFrame || touchesSpill {
      facts.hazards.append(.escapes(index: index, how: .atomicOperand))
    }
    if let reach { state.write(reach, value: .other) }
    let operation = AtomicOperation(rawValue: instruction.immediate)
    if operation == .compareExchange {
      state[.r0] = .other
    } else if operation?.fetches == true {
      define(instruction.src, .other, at: index, &state, &facts)
    }
  }

  private static func control(
    _ index: Int, _ instruction: Instruction, _ state: inout FrameState, _ facts: inout Facts
  ) {
    if instruction.isLocalCall {
      call(index, &state, &facts)
    } else if instruction.isCall {
      for register in RegisterEffects.callerSaved {
        switch state[register] {
        case .frame(let offset):
          if offset < -512 {
            facts.hazards.append(
              .argumentOutsideFrame(index: index, register: register, offset: offset))
          }
          facts.helperArguments.append(
            HelperArgument(index: index, register: register, offset: offset))
        case .variableFrame(let lower, let upper):
          // A helper reaches upward from the pointer: its lowest offset is
          // the deepest use.
          guard lower >= -FrameValue.offsetLimit, upper <= FrameValue.offsetLimit else {
            facts.hazards.append(.variableOffset(index: index, lower: lower, upper: upper))
            break
          }
          if lower < -512 {
            facts.hazards.append(
              .argumentOutsideFrame(index: index, register: register, offset: lower))
          }
          facts.helperArguments.append(
            HelperArgument(index: index, register: register, offset: lower))
        case .unknown:
          facts.hazards.append(.ambiguousPointer(index: index, register: register))
        case .other, .undefined, .scalar:
          break
        }
      }
      state[.r0] = .other
      for register in RegisterEffects.callerSaved { state[register] = .undefined }
    } else if instruction.isExit {
      // A callee's R0 goes back to its caller, which keeps tracking it.
      if state[.r0].mayPointIntoFrame && facts.isMainFrame {
        facts.hazards.append(.escapes(index: index, how: .returned))
      }
    } else if instruction.jumpOperation?.isConditional == true {
      let byRegister = instruction.operandSource == .register
      if facts.isMainFrame && (instruction.dst == .r10 || (byRegister && instruction.src == .r10)) {
        facts.hazards.append(.framePointerRead(index: index))
      }
      let left = state[instruction.dst].mayPointIntoFrame
      let right = byRegister ? state[instruction.src].mayPointIntoFrame : false
      let isNullTest = !byRegister && instruction.immediate == 0
      if left != right && !isNullTest {
        facts.hazards.append(.escapes(index: index, how: .compared))
      }
    }
  }
}

extension StackFrameAnalysis {
  /// A bpf-to-bpf call: a callee that gets pointers into the main frame
  /// is analysed with the caller's state (``CalleeAnalyses``), its
  /// accesses and hazards become the caller's, and the caller continues
  /// with the main frame's slots as the callee left them and the callee's
  /// R0; a callee that cannot be bounded is a hazard.
  private static func call(_ index: Int, _ state: inout FrameState, _ facts: inout Facts) {
    let passed = RegisterEffects.callerSaved.filter { state[$0].mayPointIntoFrame }
    var returned = FrameValue.other
    if !passed.isEmpty {
      if let effect = facts.callees?.effect(ofCallAt: index, from: state, depth: facts.depth) {
        facts.append(effect.facts)
        if let exit = effect.exit {
          state.slots = exit.slots
          if exit[.r0] != .undefined { returned = exit[.r0] }
        }
      } else {
        for register in passed {
          facts.hazards.append(.passedToSubprogram(index: index, register: register))
        }
      }
    }
    state[.r0] = returned
    for register in RegisterEffects.callerSaved { state[register] = .undefined }
  }
}

/// The bytes of the frame one access may touch: `size` bytes from
/// `start` (for a variable offset, every byte any offset reaches).
struct FrameReach {
  var start: Int
  var size: Int
  /// Whether the offset is one constant (a spill or fill is tracked).
  var isExact: Bool
}

extension FrameState {
  /// Records a write of `value` where `reach` says; a write at a variable
  /// offset may or may not hit each slot it covers.
  mutating func write(_ reach: FrameReach, value: FrameValue) {
    if reach.isExact {
      write(offset: reach.start, size: reach.size, value: value)
      return
    }
    let first = reach.start - ((reach.start % 8) + 8) % 8
    for slot in stride(from: first, to: reach.start + reach.size, by: 8) {
      let old = slots[slot] ?? .undefined
      slots[slot] = old.mayPointIntoFrame ? .unknown : .other
    }
  }

  /// Whether a slot that `[start, start + size)` touches may hold a frame pointer.
  func mayHoldFramePointer(_ start: Int, _ size: Int) -> Bool {
    slots.contains { $0.key > start - 8 && $0.key < start + size && $0.value.mayPointIntoFrame }
  }
}
