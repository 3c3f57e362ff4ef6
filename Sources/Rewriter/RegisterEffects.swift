import BPF

/// Which registers one instruction reads, defines and leaves undefined, as
/// bit masks (bit n for Rn), so that a pass over every instruction of a
/// program allocates nothing.
///
/// Calls read no argument registers here: a helper's arity is in the
/// kernel's prototype table, not in the instruction. Calls define R0 and
/// leave R1–R5 undefined (`NOT_INIT` in the verifier).
struct RegisterEffects {
  /// Registers whose value the instruction uses.
  var reads: UInt16 = 0
  /// Registers that hold a defined value afterwards.
  var writes: UInt16 = 0
  /// Registers whose value is gone afterwards.
  var clobbers: UInt16 = 0

  static let callerSaved: [Register] = [.r1, .r2, .r3, .r4, .r5]
  /// R1–R5 as a mask.
  static let callerSavedMask: UInt16 = 0b11_1110

  /// The mask of one register.
  static func bit(_ register: Register) -> UInt16 { 1 << UInt16(register.rawValue & 15) }

  init(_ instruction: Instruction) {
    let usesSource = instruction.operandSource == .register
    let dst = Self.bit(instruction.dst)
    let src = Self.bit(instruction.src)
    switch instruction.instructionClass {
    case .alu, .alu64:
      switch instruction.arithmeticOperation {
      case .mov: reads = usesSource ? src : 0
      case .neg, .end: reads = dst
      default: reads = dst | (usesSource ? src : 0)
      }
      writes = dst
    case .ld:
      if instruction.isWideImmediateLoad {
        writes = dst
      } else {
        reads = Self.bit(.r6) | (instruction.accessMode == .indirect ? src : 0)
        writes = Self.bit(.r0)
        clobbers = Self.callerSavedMask
      }
    case .ldx:
      reads = src
      writes = dst
    case .st:
      reads = dst
    case .stx:
      reads = dst | src
      if instruction.accessMode == .atomic {
        let operation = AtomicOperation(rawValue: instruction.immediate)
        if operation == .compareExchange {
          reads |= Self.bit(.r0)
          writes = Self.bit(.r0)
        } else if operation?.fetches == true {
          writes = src
        }
      }
    case .jmp, .jmp32:
      if instruction.isCall {
        writes = Self.bit(.r0)
        clobbers = Self.callerSavedMask
      } else if instruction.isExit {
        reads = Self.bit(.r0)
      } else if instruction.jumpOperation?.isConditional == true {
        reads = dst | (usesSource ? src : 0)
      }
    }
  }
}
