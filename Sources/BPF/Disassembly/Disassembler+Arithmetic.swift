// Arithmetic (`alu`, `alu64`) in LLVM's syntax: `w1 += 0x7`, `r1 s/= r2`,
// `r1 = (s8)r2`, `w1 = -w1`, `r1 = be16 r1`, `r1 = bswap64 r1`.

extension Disassembler {
  func arithmeticText(_ instruction: Instruction) throws(Undecodable) -> String {
    guard let operation = instruction.arithmeticOperation else { throw Undecodable() }
    let wide = instruction.instructionClass == .alu64
    let register = instruction.operandSource == .register
    let dst = try name(instruction.dst, wide: wide)
    switch operation {
    case .neg:
      guard !register else { throw Undecodable() }
      return "\(dst) = -\(dst)"
    case .end:
      return try byteSwapText(instruction, wide: wide, toBigEndian: register)
    case .mov where register && instruction.offset != 0:
      let widths: Set<Int16> = wide ? [8, 16, 32] : [8, 16]
      guard widths.contains(instruction.offset) else { throw Undecodable() }
      return "\(dst) = (s\(instruction.offset))\(try name(instruction.src, wide: wide))"
    default:
      guard let symbol = assignmentSymbol(operation, signed: instruction.offset == 1) else {
        throw Undecodable()
      }
      guard
        instruction.offset == 0 || (instruction.offset == 1 && [.div, .mod].contains(operation))
      else { throw Undecodable() }
      let operand =
        register
        ? try name(instruction.src, wide: wide) : numberStyle.format(Int64(instruction.immediate))
      return "\(dst) \(symbol) \(operand)"
    }
  }

  /// `r1 = le16 r1`, `r1 = be32 r1` (class `alu`, always 64-bit register
  /// names) and `r1 = bswap64 r1` (class `alu64`, immediate source only).
  private func byteSwapText(_ instruction: Instruction, wide: Bool, toBigEndian: Bool)
    throws(Undecodable) -> String
  {
    guard [16, 32, 64].contains(instruction.immediate), !(wide && toBigEndian) else {
      throw Undecodable()
    }
    let mnemonic = wide ? "bswap" : (toBigEndian ? "be" : "le")
    let dst = try name(instruction.dst, wide: true)
    return "\(dst) = \(mnemonic)\(instruction.immediate) \(dst)"
  }

  /// The compound-assignment operator of a binary operation.
  private func assignmentSymbol(_ operation: ArithmeticOperation, signed: Bool) -> String? {
    switch operation {
    case .add: "+="
    case .sub: "-="
    case .mul: "*="
    case .div: signed ? "s/=" : "/="
    case .or: "|="
    case .and: "&="
    case .lsh: "<<="
    case .rsh: ">>="
    case .mod: signed ? "s%=" : "%="
    case .xor: "^="
    case .mov: "="
    case .arsh: "s>>="
    case .neg, .end: nil
    }
  }
}
