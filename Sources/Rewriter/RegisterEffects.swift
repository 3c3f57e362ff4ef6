import BPF

/// Which registers one instruction reads, defines and leaves undefined.
///
/// Calls read no argument registers here: a helper's arity is in the
/// kernel's prototype table, not in the instruction. Calls define R0 and
/// leave R1–R5 undefined (`NOT_INIT` in the verifier).
struct RegisterEffects {
  /// Registers whose value the instruction uses.
  var reads: [Register] = []
  /// Registers that hold a defined value afterwards.
  var writes: [Register] = []
  /// Registers whose value is gone afterwards.
  var clobbers: [Register] = []

  static let callerSaved: [Register] = [.r1, .r2, .r3, .r4, .r5]

  init(_ instruction: Instruction) {
    let usesSource = instruction.operandSource == .register
    switch instruction.instructionClass {
    case .alu, .alu64:
      switch instruction.arithmeticOperation {
      case .mov: reads = usesSource ? [instruction.src] : []
      case .neg, .end: reads = [instruction.dst]
      default: reads = [instruction.dst] + (usesSource ? [instruction.src] : [])
      }
      writes = [instruction.dst]
    case .ld:
      if instruction.isWideImmediateLoad {
        writes = [instruction.dst]
      } else {
        reads = [.r6] + (instruction.accessMode == .indirect ? [instruction.src] : [])
        writes = [.r0]
        clobbers = Self.callerSaved
      }
    case .ldx:
      reads = [instruction.src]
      writes = [instruction.dst]
    case .st:
      reads = [instruction.dst]
    case .stx:
      reads = [instruction.dst, instruction.src]
      if instruction.accessMode == .atomic {
        let operation = AtomicOperation(rawValue: instruction.immediate)
        if operation == .compareExchange {
          reads.append(.r0)
          writes = [.r0]
        } else if operation?.fetches == true {
          writes = [instruction.src]
        }
      }
    case .jmp, .jmp32:
      if instruction.isCall {
        writes = [.r0]
        clobbers = Self.callerSaved
      } else if instruction.isExit {
        reads = [.r0]
      } else if instruction.jumpOperation?.isConditional == true {
        reads = [instruction.dst] + (usesSource ? [instruction.src] : [])
      }
    }
  }
}
