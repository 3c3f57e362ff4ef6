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
        define(instruction.dst, .other, at: index, &state, &facts)
      } else {
        state[.r0] = .other
        for register in RegisterEffects.callerSaved { state[register] = .undefined }
      }
    case .ldx:
      let slot = frameAccess(
        index, base: instruction.src, offset: instruction.offset, instruction, state, &facts)
      var loaded = FrameValue.other
      if let slot, instruction.accessSize == .doubleWord, instruction.accessMode == .memory,
        slot % 8 == 0
      {
        let spilled = state.slots[slot] ?? .undefined
        loaded = spilled == .undefined ? .other : spilled
      }
      define(instruction.dst, loaded, at: index, &state, &facts)
    case .st:
      if let slot = frameAccess(
        index, base: instruction.dst, offset: instruction.offset, instruction, state, &facts)
      {
        state.write(offset: slot, size: instruction.accessSize?.bytes ?? 8, value: .other)
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

  /// Records an access through `base`; returns its frame offset when the
  /// base is R10 plus a constant.
  private static func frameAccess(
    _ index: Int, base: Register, offset: Int16, _ instruction: Instruction, _ state: FrameState,
    _ facts: inout Facts
  ) -> Int? {
    let size = instruction.accessSize?.bytes ?? 8
    switch state[base] {
    case .frame(let pointer):
      let start = pointer + Int(offset)
      if start < -512 || start + size > 0 {
        facts.hazards.append(.outsideFrame(index: index, offset: start, size: size))
      }
      facts.accesses.append(
        Access(index: index, offset: start, size: size, isDirect: base == .r10))
      return start
    case .variableFrame:
      facts.hazards.append(.variableOffset(index: index))
    case .unknown:
      facts.hazards.append(.ambiguousPointer(index: index, register: base))
    case .other, .undefined:
      break
    }
    return nil
  }

  private static func arithmetic(
    _ index: Int, _ instruction: Instruction, _ state: inout FrameState, _ facts: inout Facts
  ) {
    let wide = instruction.instructionClass == .alu64
    let byRegister = instruction.operandSource == .register
    let operation = instruction.arithmeticOperation
    let isPlainMove = wide && operation == .mov && instruction.offset == 0
    if byRegister && instruction.src == .r10 {
      if isPlainMove {
        facts.framePointerCopies.append(index)
      } else {
        facts.hazards.append(.framePointerRead(index: index))
      }
    }
    let target = state[instruction.dst]
    let source = byRegister ? state[instruction.src] : .other
    let constant = Int(instruction.immediate)
    var result = FrameValue.other
    func escape() { facts.hazards.append(.escapes(index: index, how: .arithmetic)) }

    switch operation {
    case .mov where isPlainMove:
      result = byRegister ? source : .other
    case .mov:
      if byRegister && source.mayPointIntoFrame { escape() }
    case .add where wide, .sub where wide:
      let sign = operation == .add ? 1 : -1
      switch (target, byRegister) {
      case (.frame(let pointer), false):
        result = .frame(pointer + sign * constant)
      case (.variableFrame, false), (.unknown, false):
        result = target
      case (_, true) where target.mayPointIntoFrame && source.mayPointIntoFrame:
        if operation == .add { escape() }  // a difference of two frame pointers is a scalar
      case (_, true) where target.mayPointIntoFrame || source.mayPointIntoFrame:
        if operation == .sub && !target.mayPointIntoFrame {
          escape()
        } else {
          facts.hazards.append(.variableOffset(index: index))
          result = target == .unknown || source == .unknown ? .unknown : .variableFrame
        }
      default:
        break
      }
    default:
      if target.mayPointIntoFrame || source.mayPointIntoFrame { escape() }
    }
    define(instruction.dst, result, at: index, &state, &facts)
  }

  private static func store(
    _ index: Int, _ instruction: Instruction, _ state: inout FrameState, _ facts: inout Facts
  ) {
    let value = state[instruction.src]
    if instruction.src == .r10 { facts.hazards.append(.framePointerRead(index: index)) }
    let slot = frameAccess(
      index, base: instruction.dst, offset: instruction.offset, instruction, state, &facts)
    let size = instruction.accessSize?.bytes ?? 8

    guard instruction.accessMode == .atomic else {
      if let slot {
        let isSpill = size == 8 && slot % 8 == 0
        if value.mayPointIntoFrame && !isSpill {
          facts.hazards.append(.escapes(index: index, how: .partialSpill))
        }
        state.write(offset: slot, size: size, value: value == .undefined ? .other : value)
      } else if value.mayPointIntoFrame && !state[instruction.dst].mayPointIntoFrame {
        facts.hazards.append(.escapes(index: index, how: .storedOutsideFrame))
      }
      return
    }
    let touchesSpill =
      slot.map { start in
        state.slots.contains {
          $0.key > start - 8 && $0.key < start + size && $0.value.mayPointIntoFrame
        }
      } ?? false
    if value.mayPointIntoFrame || touchesSpill {
      facts.hazards.append(.escapes(index: index, how: .atomicOperand))
    }
    if let slot { state.write(offset: slot, size: size, value: .other) }
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
    if instruction.isCall {
      for register in RegisterEffects.callerSaved {
        let value = state[register]
        if instruction.isLocalCall {
          if value.mayPointIntoFrame {
            facts.hazards.append(.passedToSubprogram(index: index, register: register))
          }
          continue
        }
        switch value {
        case .frame(let offset):
          facts.helperArguments.append(
            HelperArgument(index: index, register: register, offset: offset))
        case .variableFrame:
          facts.hazards.append(.variableOffset(index: index))
        case .unknown:
          facts.hazards.append(.ambiguousPointer(index: index, register: register))
        case .other, .undefined:
          break
        }
      }
      state[.r0] = .other
      for register in RegisterEffects.callerSaved { state[register] = .undefined }
    } else if instruction.isExit {
      if state[.r0].mayPointIntoFrame {
        facts.hazards.append(.escapes(index: index, how: .returned))
      }
    } else if instruction.jumpOperation?.isConditional == true {
      let byRegister = instruction.operandSource == .register
      if instruction.dst == .r10 || (byRegister && instruction.src == .r10) {
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
