/// An x86-64 general-purpose register, by its encoding number.
struct X86Register: Equatable {
  let number: UInt8
  static let rax = X86Register(number: 0)
  static let rcx = X86Register(number: 1)
  static let rdx = X86Register(number: 2)
  static let rbx = X86Register(number: 3)
  static let rsp = X86Register(number: 4)
  static let rbp = X86Register(number: 5)
  static let rsi = X86Register(number: 6)
  static let rdi = X86Register(number: 7)
  static let r8 = X86Register(number: 8)
  static let r9 = X86Register(number: 9)
  static let r10 = X86Register(number: 10)
  static let r11 = X86Register(number: 11)
  static let r12 = X86Register(number: 12)
  static let r13 = X86Register(number: 13)
  static let r14 = X86Register(number: 14)
  static let r15 = X86Register(number: 15)
  var low: UInt8 { number & 7 }
  var extended: Bool { number >= 8 }
}

/// A position in the code that jumps can name before it is known.
struct CodeLabel: Hashable { let id: Int }

/// An x86-64 condition code (the low nibble of `Jcc`).
enum Condition: UInt8 {
  case below = 0x2
  case aboveOrEqual = 0x3
  case equal = 0x4
  case notEqual = 0x5
  case belowOrEqual = 0x6
  case above = 0x7
  case less = 0xc
  case greaterOrEqual = 0xd
  case lessOrEqual = 0xe
  case greater = 0xf

  /// The opposite condition (x86 encodes each pair as codes that differ
  /// in the low bit).
  var inverse: Condition { Condition(rawValue: rawValue ^ 1)! }
}

/// Encodes x86-64 instructions into a byte buffer: REX, ModRM, SIB and
/// immediates, with labels resolved as 32-bit relative displacements when
/// ``finish()`` is called. Only the forms the JIT needs.
struct X86Assembler {
  private(set) var bytes: [UInt8] = []
  private var labelPositions: [Int?] = []
  private var fixups: [(at: Int, label: CodeLabel)] = []

  /// A fresh, unbound label.
  mutating func makeLabel() -> CodeLabel {
    labelPositions.append(nil)
    return CodeLabel(id: labelPositions.count - 1)
  }

  /// Binds `label` to the current position.
  mutating func bind(_ label: CodeLabel) { labelPositions[label.id] = bytes.count }

  /// Binds `label` to where `other` is bound.
  mutating func bind(_ label: CodeLabel, to other: CodeLabel) {
    guard let position = labelPositions[other.id] else {
      preconditionFailure("label \(other.id) is not bound")
    }
    labelPositions[label.id] = position
  }

  /// The bound position of `label`.
  func position(of label: CodeLabel) -> Int? { labelPositions[label.id] }

  mutating func emit(_ values: UInt8...) { bytes += values }

  /// Pads with no-ops (the multi-byte forms, at most 9 bytes each) up to
  /// a multiple of `boundary` bytes from the code's start, which is a page
  /// (``ExecutableMemory``): where a loop's head falls within the
  /// front end's 32-byte fetch blocks otherwise changes its time per
  /// iteration with the code before it.
  mutating func align(to boundary: Int) {
    var missing = (boundary - bytes.count % boundary) % boundary
    while missing > 0 {
      let size = min(missing, 9)
      bytes += Self.noOperations[size - 1]
      missing -= size
    }
  }

  /// The recommended no-op of each size from 1 to 9 bytes (`nop`, `xchg
  /// ax, ax`, then `nop` with a memory operand of growing length).
  private static let noOperations: [[UInt8]] = [
    [0x90],
    [0x66, 0x90],
    [0x0f, 0x1f, 0x00],
    [0x0f, 0x1f, 0x40, 0x00],
    [0x0f, 0x1f, 0x44, 0x00, 0x00],
    [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
    [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
    [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  ]

  mutating func emit32(_ value: Int32) {
    withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
  }

  mutating func emit64(_ value: UInt64) {
    withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
  }

  /// REX prefix; `force` emits it even when empty (byte registers sil/dil).
  mutating func rex(
    wide: Bool, reg: UInt8 = 0, index: UInt8 = 0, base: UInt8 = 0, force: Bool = false
  ) {
    let value: UInt8 =
      0x40 | (wide ? 8 : 0) | (reg >= 8 ? 4 : 0) | (index >= 8 ? 2 : 0) | (base >= 8 ? 1 : 0)
    if value != 0x40 || force { emit(value) }
  }

  /// `op reg, rm` with register operands (ModRM mod 11).
  mutating func registerForm(
    _ opcode: [UInt8], wide: Bool, reg: UInt8, rm: X86Register, prefix: UInt8? = nil,
    byteRegisters: Bool = false
  ) {
    if let prefix { emit(prefix) }
    rex(wide: wide, reg: reg, base: rm.number, force: byteRegisters)
    bytes += opcode
    emit(0xc0 | (reg & 7) << 3 | rm.low)
  }

  /// `op reg, [base + index*scale + disp32]` (index nil: no index).
  mutating func memoryForm(
    _ opcode: [UInt8], wide: Bool, reg: UInt8, base: X86Register, index: X86Register? = nil,
    scale: UInt8 = 1, displacement: Int32, prefix: [UInt8] = [], byteRegisters: Bool = false
  ) {
    bytes += prefix
    rex(
      wide: wide, reg: reg, index: index?.number ?? 0, base: base.number, force: byteRegisters)
    bytes += opcode
    let scaleBits: UInt8 = scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0
    // mod 01 (disp8) where the displacement fits a signed byte, else mod
    // 10 (disp32): the kernel's JIT does the same.
    let short = Int32(Int8(truncatingIfNeeded: displacement)) == displacement
    let mod: UInt8 = short ? 0x40 : 0x80
    if let index {
      emit(mod | 0x04 | (reg & 7) << 3, scaleBits << 6 | index.low << 3 | base.low)
    } else if base.low == 4 {
      emit(mod | 0x04 | (reg & 7) << 3, 0x24)
    } else {
      emit(mod | (reg & 7) << 3 | base.low)
    }
    if short {
      emit(UInt8(bitPattern: Int8(truncatingIfNeeded: displacement)))
    } else {
      emit32(displacement)
    }
  }

  /// `Jcc label` (rel32).
  mutating func jump(_ condition: Condition, to label: CodeLabel) {
    emit(0x0f, 0x80 | condition.rawValue)
    fixup(label)
  }

  /// `jmp label` (rel32).
  mutating func jump(to label: CodeLabel) {
    emit(0xe9)
    fixup(label)
  }

  /// `call label` (rel32).
  mutating func call(_ label: CodeLabel) {
    emit(0xe8)
    fixup(label)
  }

  private mutating func fixup(_ label: CodeLabel) {
    fixups.append((bytes.count, label))
    emit32(0)
  }

  /// Patches every label reference; nil when a referenced label is unbound.
  mutating func finish() -> [UInt8]? {
    for (at, label) in fixups {
      guard let target = labelPositions[label.id] else { return nil }
      let distance = Int32(target - (at + 4))
      withUnsafeBytes(of: distance.littleEndian) { raw in
        for k in 0..<4 { bytes[at + k] = raw[k] }
      }
    }
    return bytes
  }
}
