import BPF

/// Maps RFC 9669 encodings (opcode plus the offset or immediate that selects
/// a variant) to the engine's ``Operation``. Only called for instructions
/// that `InstructionValidator` accepted.
enum OperationTable {
  /// The arithmetic operation, or nil when the variant selector (offset for
  /// `sdiv`/`smod`/`movsx`, width for byte swaps) is invalid.
  static func arithmetic(_ instruction: Instruction) throws(PreparationError) -> Operation? {
    let wide = instruction.instructionClass == .alu64
    let register = instruction.opcode & 0x08 != 0
    let offset = instruction.offset
    let operands = OperandForm(wide: wide, register: register)
    let pick = operands.pick
    switch instruction.opcode & 0xf0 {
    case 0x00: return pick(.add64K, .add64X, .add32K, .add32X)
    case 0x10: return pick(.sub64K, .sub64X, .sub32K, .sub32X)
    case 0x20: return pick(.mul64K, .mul64X, .mul32K, .mul32X)
    case 0x30:
      if offset == 0 { return DivisionKind.divide.operation(operands) }
      if offset == 1 { return DivisionKind.signedDivide.operation(operands) }
      return nil
    case 0x40: return pick(.or64K, .or64X, .or32K, .or32X)
    case 0x50: return pick(.and64K, .and64X, .and32K, .and32X)
    case 0x60: return pick(.lsh64K, .lsh64X, .lsh32K, .lsh32X)
    case 0x70: return pick(.rsh64K, .rsh64X, .rsh32K, .rsh32X)
    case 0x80: return wide ? .neg64 : .neg32
    case 0x90:
      if offset == 0 { return DivisionKind.modulo.operation(operands) }
      if offset == 1 { return DivisionKind.signedModulo.operation(operands) }
      return nil
    case 0xa0: return pick(.xor64K, .xor64X, .xor32K, .xor32X)
    case 0xb0:
      switch (offset, register, wide) {
      case (0, _, _): return pick(.mov64K, .mov64X, .mov32K, .mov32X)
      case (8, true, true): return .movsx8To64
      case (16, true, true): return .movsx16To64
      case (32, true, true): return .movsx32To64
      case (8, true, false): return .movsx8To32
      case (16, true, false): return .movsx16To32
      default: return nil
      }
    case 0xc0: return pick(.arsh64K, .arsh64X, .arsh32K, .arsh32X)
    default:
      let width = instruction.immediate
      let toBigEndian = instruction.opcode == 0xdc
      let swaps = wide || toBigEndian
      switch width {
      case 16: return swaps ? .swap16 : .toLittle16
      case 32: return swaps ? .swap32 : .toLittle32
      case 64: return swaps ? .swap64 : .toLittle64
      default: return nil
      }
    }
  }

  /// The conditional or unconditional jump.
  static func jump(_ instruction: Instruction) -> Operation {
    let operands = OperandForm(
      wide: instruction.instructionClass == .jmp, register: instruction.opcode & 0x08 != 0)
    let test: JumpTest
    switch instruction.opcode & 0xf0 {
    case 0x10: test = .equal
    case 0x20: test = .greater
    case 0x30: test = .greaterOrEqual
    case 0x40: test = .anyBitSet
    case 0x50: test = .notEqual
    case 0x60: test = .signedGreater
    case 0x70: test = .signedGreaterOrEqual
    case 0xa0: test = .less
    case 0xb0: test = .lessOrEqual
    case 0xc0: test = .signedLess
    case 0xd0: test = .signedLessOrEqual
    default: return .ja
    }
    return test.operation(operands)
  }

  /// `ldx` in its plain and sign-extending forms.
  static func load(_ opcode: UInt8) -> Operation {
    switch opcode {
    case 0x71: .loadByte
    case 0x69: .loadHalf
    case 0x61: .loadWord
    case 0x79: .loadDouble
    case 0x91: .loadSignedByte
    case 0x89: .loadSignedHalf
    default: .loadSignedWord
    }
  }

  /// `st` and `stx` (non-atomic).
  static func store(_ opcode: UInt8) -> Operation {
    switch opcode {
    case 0x72: .storeImmediateByte
    case 0x6a: .storeImmediateHalf
    case 0x62: .storeImmediateWord
    case 0x7a: .storeImmediateDouble
    case 0x73: .storeByte
    case 0x6b: .storeHalf
    case 0x63: .storeWord
    default: .storeDouble
    }
  }

  /// The atomic operation, or nil for an immediate that names none.
  static func atomic(_ instruction: Instruction) -> Operation? {
    guard let kind = AtomicOperation(rawValue: instruction.immediate) else { return nil }
    let wide = instruction.opcode == 0xdb
    switch kind {
    case .add: return wide ? .atomicAdd64 : .atomicAdd32
    case .or: return wide ? .atomicOr64 : .atomicOr32
    case .and: return wide ? .atomicAnd64 : .atomicAnd32
    case .xor: return wide ? .atomicXor64 : .atomicXor32
    case .fetchAdd: return wide ? .atomicFetchAdd64 : .atomicFetchAdd32
    case .fetchOr: return wide ? .atomicFetchOr64 : .atomicFetchOr32
    case .fetchAnd: return wide ? .atomicFetchAnd64 : .atomicFetchAnd32
    case .fetchXor: return wide ? .atomicFetchXor64 : .atomicFetchXor32
    case .exchange: return wide ? .atomicExchange64 : .atomicExchange32
    case .compareExchange: return wide ? .atomicCompareExchange64 : .atomicCompareExchange32
    }
  }

  /// The legacy packet loads (`ld_abs`, `ld_ind`).
  static func packetLoad(_ opcode: UInt8) -> Operation {
    switch opcode {
    case 0x20: .packetLoadAbsoluteWord
    case 0x28: .packetLoadAbsoluteHalf
    case 0x30: .packetLoadAbsoluteByte
    case 0x40: .packetLoadIndirectWord
    case 0x48: .packetLoadIndirectHalf
    default: .packetLoadIndirectByte
    }
  }
}
