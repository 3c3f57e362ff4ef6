import BPF

/// What the JIT needs to know of an ``Operation`` besides its case: its
/// family, and for jumps and divisions the test or kind, the width and the
/// operand. Each is a switch over the cases (or, for jumps and divisions,
/// derived from the one switch that names the operation for a form, which
/// the decoder uses too), never a reading of the case's name or of the
/// order of raw values.
extension Operation {
  /// The groups the JIT emits code for separately.
  enum Family {
    case arithmetic, byteOrder, jump, call, load, store, atomic, loadImmediate64, packetLoad, trap
  }

  /// This operation's family. Exhaustive: a new operation must say where it
  /// belongs.
  var family: Family {
    switch self {
    case .add64K, .add64X, .sub64K, .sub64X, .mul64K, .mul64X, .div64K, .div64X, .sdiv64K,
      .sdiv64X, .or64K, .or64X, .and64K, .and64X, .lsh64K, .lsh64X, .rsh64K, .rsh64X, .neg64,
      .mod64K, .mod64X, .smod64K, .smod64X, .xor64K, .xor64X, .mov64K, .mov64X,
      .movsx8To64, .movsx16To64, .movsx32To64, .arsh64K, .arsh64X,
      .add32K, .add32X, .sub32K, .sub32X, .mul32K, .mul32X, .div32K, .div32X, .sdiv32K,
      .sdiv32X, .or32K, .or32X, .and32K, .and32X, .lsh32K, .lsh32X, .rsh32K, .rsh32X, .neg32,
      .mod32K, .mod32X, .smod32K, .smod32X, .xor32K, .xor32X, .mov32K, .mov32X,
      .movsx8To32, .movsx16To32, .arsh32K, .arsh32X:
      .arithmetic
    case .toLittle16, .toLittle32, .toLittle64, .swap16, .swap32, .swap64:
      .byteOrder
    case .ja, .jeqK, .jeqX, .jgtK, .jgtX, .jgeK, .jgeX, .jsetK, .jsetX, .jneK, .jneX,
      .jsgtK, .jsgtX, .jsgeK, .jsgeX, .jltK, .jltX, .jleK, .jleX, .jsltK, .jsltX, .jsleK,
      .jsleX, .jeq32K, .jeq32X, .jgt32K, .jgt32X, .jge32K, .jge32X, .jset32K, .jset32X,
      .jne32K, .jne32X, .jsgt32K, .jsgt32X, .jsge32K, .jsge32X, .jlt32K, .jlt32X, .jle32K,
      .jle32X, .jslt32K, .jslt32X, .jsle32K, .jsle32X:
      .jump
    case .callHelper, .callLocal, .tailCall, .exit, .callRegister:
      .call
    case .loadByte, .loadHalf, .loadWord, .loadDouble, .loadSignedByte, .loadSignedHalf,
      .loadSignedWord:
      .load
    case .storeImmediateByte, .storeImmediateHalf, .storeImmediateWord, .storeImmediateDouble,
      .storeByte, .storeHalf, .storeWord, .storeDouble:
      .store
    case .atomicAdd32, .atomicOr32, .atomicAnd32, .atomicXor32, .atomicFetchAdd32,
      .atomicFetchOr32, .atomicFetchAnd32, .atomicFetchXor32, .atomicExchange32,
      .atomicCompareExchange32, .atomicAdd64, .atomicOr64, .atomicAnd64, .atomicXor64,
      .atomicFetchAdd64, .atomicFetchOr64, .atomicFetchAnd64, .atomicFetchXor64,
      .atomicExchange64, .atomicCompareExchange64:
      .atomic
    case .loadImmediate64:
      .loadImmediate64
    case .packetLoadAbsoluteByte, .packetLoadAbsoluteHalf, .packetLoadAbsoluteWord,
      .packetLoadIndirectByte, .packetLoadIndirectHalf, .packetLoadIndirectWord:
      .packetLoad
    case .trap:
      .trap
    }
  }

  /// `ja` and the conditional jumps.
  var isJump: Bool { family == .jump }

  /// Bytes a store (of a register or an immediate) writes; nil for other
  /// operations.
  var storeSize: Int? {
    switch self {
    case .storeByte, .storeImmediateByte: 1
    case .storeHalf, .storeImmediateHalf: 2
    case .storeWord, .storeImmediateWord: 4
    case .storeDouble, .storeImmediateDouble: 8
    default: nil
    }
  }

  /// What an atomic operation does, whatever its width.
  var atomicKind: AtomicOperation {
    switch self {
    case .atomicAdd32, .atomicAdd64: .add
    case .atomicOr32, .atomicOr64: .or
    case .atomicAnd32, .atomicAnd64: .and
    case .atomicXor32, .atomicXor64: .xor
    case .atomicFetchAdd32, .atomicFetchAdd64: .fetchAdd
    case .atomicFetchOr32, .atomicFetchOr64: .fetchOr
    case .atomicFetchAnd32, .atomicFetchAnd64: .fetchAnd
    case .atomicFetchXor32, .atomicFetchXor64: .fetchXor
    case .atomicExchange32, .atomicExchange64: .exchange
    default: .compareExchange
    }
  }

  /// Whether an atomic operation works on 64 bits (else 32).
  var isWideAtomic: Bool {
    switch self {
    case .atomicAdd64, .atomicOr64, .atomicAnd64, .atomicXor64, .atomicFetchAdd64,
      .atomicFetchOr64, .atomicFetchAnd64, .atomicFetchXor64, .atomicExchange64,
      .atomicCompareExchange64:
      true
    default: false
    }
  }

  /// Whether a legacy packet load adds a register to its offset (`ld_ind`).
  var isIndirectPacketLoad: Bool {
    switch self {
    case .packetLoadIndirectByte, .packetLoadIndirectHalf, .packetLoadIndirectWord: true
    default: false
    }
  }

  /// A conditional jump's test and operands; nil for `ja` and every
  /// operation that is not a jump.
  var conditionalJump: (test: JumpTest, operands: OperandForm)? {
    Self.conditionalJumps[self]
  }

  /// A division's kind and operands; nil for every other operation.
  var division: (kind: DivisionKind, operands: OperandForm)? { Self.divisions[self] }

  private static let conditionalJumps: [Operation: (test: JumpTest, operands: OperandForm)] =
    Dictionary(
      uniqueKeysWithValues: JumpTest.allCases.flatMap { test in
        OperandForm.all.map { (test.operation($0), (test, $0)) }
      })

  private static let divisions: [Operation: (kind: DivisionKind, operands: OperandForm)] =
    Dictionary(
      uniqueKeysWithValues: DivisionKind.allCases.flatMap { kind in
        OperandForm.all.map { (kind.operation($0), (kind, $0)) }
      })
}

/// How an ALU or jump operation takes its operands: on 64 or 32 bits, the
/// second one the immediate (K) or the source register (X).
struct OperandForm: Hashable {
  /// 64-bit (ALU64, JMP) rather than 32-bit (ALU, JMP32).
  var wide: Bool
  /// The source register rather than the immediate.
  var register: Bool

  static let all = [true, false].flatMap { wide in
    [true, false].map { OperandForm(wide: wide, register: $0) }
  }

  /// The one of four operations this form selects.
  func pick(_ k64: Operation, _ x64: Operation, _ k32: Operation, _ x32: Operation) -> Operation {
    wide ? (register ? x64 : k64) : (register ? x32 : k32)
  }
}

/// The comparison a conditional jump makes (RFC 9669, table 5).
enum JumpTest: CaseIterable {
  case equal, notEqual, anyBitSet
  case greater, greaterOrEqual, less, lessOrEqual
  case signedGreater, signedGreaterOrEqual, signedLess, signedLessOrEqual

  /// The operation that makes this test with `operands`.
  func operation(_ operands: OperandForm) -> Operation {
    switch self {
    case .equal: operands.pick(.jeqK, .jeqX, .jeq32K, .jeq32X)
    case .notEqual: operands.pick(.jneK, .jneX, .jne32K, .jne32X)
    case .anyBitSet: operands.pick(.jsetK, .jsetX, .jset32K, .jset32X)
    case .greater: operands.pick(.jgtK, .jgtX, .jgt32K, .jgt32X)
    case .greaterOrEqual: operands.pick(.jgeK, .jgeX, .jge32K, .jge32X)
    case .less: operands.pick(.jltK, .jltX, .jlt32K, .jlt32X)
    case .lessOrEqual: operands.pick(.jleK, .jleX, .jle32K, .jle32X)
    case .signedGreater: operands.pick(.jsgtK, .jsgtX, .jsgt32K, .jsgt32X)
    case .signedGreaterOrEqual: operands.pick(.jsgeK, .jsgeX, .jsge32K, .jsge32X)
    case .signedLess: operands.pick(.jsltK, .jsltX, .jslt32K, .jslt32X)
    case .signedLessOrEqual: operands.pick(.jsleK, .jsleX, .jsle32K, .jsle32X)
    }
  }
}

/// `div`, `mod` and their signed forms (offset 1 in the encoding).
enum DivisionKind: CaseIterable {
  case divide, modulo, signedDivide, signedModulo

  /// Whether the operands are signed.
  var signed: Bool { self == .signedDivide || self == .signedModulo }
  /// Whether the result is the remainder.
  var modulo: Bool { self == .modulo || self == .signedModulo }

  /// The operation of this kind with `operands`.
  func operation(_ operands: OperandForm) -> Operation {
    switch self {
    case .divide: operands.pick(.div64K, .div64X, .div32K, .div32X)
    case .modulo: operands.pick(.mod64K, .mod64X, .mod32K, .mod32X)
    case .signedDivide: operands.pick(.sdiv64K, .sdiv64X, .sdiv32K, .sdiv32X)
    case .signedModulo: operands.pick(.smod64K, .smod64X, .smod32K, .smod32X)
    }
  }
}
