// Control flow (`jmp`, `jmp32`) in LLVM's syntax: `goto +0x3`, `gotol -0x3`,
// `if w1 s>= 0x7 goto -0x3`, `call 0x1`, `call -0x1`, `exit`.

extension Disassembler {
  func jumpText(_ instruction: Instruction, at index: Int) throws(Undecodable) -> String {
    guard let operation = instruction.jumpOperation else { throw Undecodable() }
    let wide = instruction.instructionClass == .jmp
    let register = instruction.operandSource == .register
    switch operation {
    case .ja:
      guard !register else { throw Undecodable() }
      return wide
        ? "goto \(numberStyle.formatSigned(Int64(instruction.offset)))"
        : "gotol \(numberStyle.formatSigned(Int64(instruction.immediate)))"
    case .call:
      guard wide, !register else { throw Undecodable() }
      return callText(instruction, at: index)
    case .exit:
      // LLVM decodes `exit` only with offset and immediate zero.
      guard wide, !register, instruction.offset == 0, instruction.immediate == 0 else {
        throw Undecodable()
      }
      return "exit"
    default:
      guard let symbol = comparisonSymbol(operation) else { throw Undecodable() }
      let operand =
        register
        ? try name(instruction.src, wide: wide) : numberStyle.format(Int64(instruction.immediate))
      let distance = numberStyle.formatSigned(Int64(instruction.offset))
      return "if \(try name(instruction.dst, wide: wide)) \(symbol) \(operand) goto \(distance)"
    }
  }

  /// `call 0x1` for helpers and kfuncs (the id), `call -0x1` for local calls
  /// (the relative target), or `call name` when ``subprogramName`` knows
  /// the local target.
  private func callText(_ instruction: Instruction, at index: Int) -> String {
    if instruction.isLocalCall, let subprogramName,
      let target = instruction.controlTarget(at: index), let name = subprogramName(target)
    {
      return "call \(name)"
    }
    return "call \(numberStyle.format(Int64(instruction.immediate)))"
  }

  private func comparisonSymbol(_ operation: JumpOperation) -> String? {
    switch operation {
    case .jeq: "=="
    case .jgt: ">"
    case .jge: ">="
    case .jset: "&"
    case .jne: "!="
    case .jsgt: "s>"
    case .jsge: "s>="
    case .jlt: "<"
    case .jle: "<="
    case .jslt: "s<"
    case .jsle: "s<="
    case .ja, .call, .exit: nil
    }
  }
}
