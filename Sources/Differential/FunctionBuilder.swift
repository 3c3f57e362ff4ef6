import BPF

/// One function of a generated program as it is built: its code, the
/// calls to link, and what its registers hold.
///
/// Register roles: R6 holds the context (main) or the caller's window
/// (subprograms) for the whole function; R0, R7, R8 and R9 always hold
/// scalars (R9 is a loop's counter inside a loop); R1-R5 are scratch,
/// written by a block before it reads them (calls clobber them).
struct FunctionBuilder {
  enum Kind: Equatable {
    case main
    case subprogram(Int)
  }

  let kind: Kind
  /// Bytes below R10 the function initialises and uses.
  let area: Int
  /// Subprograms this function may call.
  let callees: [Int]
  var code: [Instruction] = []
  /// Calls to link: the index in ``code`` and the callee's number.
  var calls: [(index: Int, callee: Int)] = []
  /// Whether a loop is being built (R9 is its counter).
  var inLoop = false

  init(kind: Kind, area: Int, calls: Int) {
    self.kind = kind
    self.area = area
    switch kind {
    case .main: callees = Array(0..<calls)
    case .subprogram: callees = calls >= 0 ? [calls] : []
    }
  }

  var isMain: Bool { kind == .main }

  /// Registers that hold scalars now.
  var scalars: [Register] { inLoop ? [.r0, .r7, .r8] : [.r0, .r7, .r8, .r9] }
  /// Scalars other than R0 (R0 holds a map value while one is accessed).
  var scalarsBesideR0: [Register] { inLoop ? [.r7, .r8] : [.r7, .r8, .r9] }

  mutating func emit(_ instructions: [Instruction]) { code += instructions }
  mutating func emit(_ instruction: Instruction) { code.append(instruction) }

  /// A call to subprogram `callee`, linked later.
  mutating func call(_ callee: Int) {
    calls.append((code.count, callee))
    code.append(.call(local: 0))
  }
}

extension Instruction {
  /// `dst op= src` (or `op= imm`) with the offset that selects `sdiv`,
  /// `smod` or `movsx`.
  static func alu(
    _ operation: ArithmeticOperation, _ dst: Register, source: Register?, immediate: Int32 = 0,
    offset: Int16 = 0, wide: Bool
  ) -> Instruction {
    Instruction(
      opcode: Opcode.arithmetic(operation, source == nil ? .immediate : .register, wide: wide),
      dst: dst, src: source ?? .r0, offset: offset, immediate: source == nil ? immediate : 0)
  }

  /// `dst = *(s size *)(base + offset)`, sign-extending (`ldsx`).
  static func loadSigned(_ size: AccessSize, _ dst: Register, from base: Register, offset: Int16)
    -> Instruction
  {
    Instruction(
      opcode: Opcode.memory(.ldx, .memorySignExtend, size), dst: dst, src: base, offset: offset)
  }

  /// An atomic read-modify-write of `size` (word or double word).
  static func atomic(
    _ operation: AtomicOperation, _ size: AccessSize, _ base: Register, offset: Int16,
    _ source: Register
  ) -> Instruction {
    Instruction(
      opcode: Opcode.memory(.stx, .atomic, size), dst: base, src: source, offset: offset,
      immediate: operation.rawValue)
  }
}
