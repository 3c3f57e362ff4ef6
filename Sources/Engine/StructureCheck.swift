import BPF

/// The structural checks the engine needs before it decodes a program:
/// every opcode known, registers R0–R10, `ld_imm64` pairs well-formed, and
/// every jump and local call landing on an instruction of the program (not
/// in the second half of an `ld_imm64`).
///
/// This is the one place to swap for the BPF layer's `InstructionValidator`
/// once it exists; until then it is a minimal stand-in that never traps on
/// unknown input.
enum StructureCheck {
  /// Throws the first structural problem found.
  static func validate(_ instructions: [Instruction]) throws(InstructionError) {
    var continuation = Set<Int>()
    var index = 0
    while index < instructions.count {
      let slot = instructions[index]
      guard slot.dst.isValid else {
        throw .invalidRegister(index: index, register: slot.dst.rawValue)
      }
      if slot.isWideImmediateLoad {
        guard index + 1 < instructions.count else { throw .malformedWideLoad(index: index) }
        let next = instructions[index + 1]
        guard next.opcode == 0, next.dst.rawValue == 0, next.src.rawValue == 0, next.offset == 0
        else { throw .malformedWideLoad(index: index) }
        continuation.insert(index + 1)
        index += 2
        continue
      }
      guard slot.isCall || slot.src.isValid else {
        throw .invalidRegister(index: index, register: slot.src.rawValue)
      }
      guard isKnown(slot) else { throw .unknownOpcode(index: index, opcode: slot.opcode) }
      index += 1
    }
    for (index, slot) in instructions.enumerated() where !continuation.contains(index) {
      let target: Int
      if let distance = slot.branchDistance {
        target = index + 1 + distance
      } else if slot.isLocalCall {
        target = index + 1 + Int(slot.immediate)
      } else {
        continue
      }
      guard target >= 0, target < instructions.count, !continuation.contains(target) else {
        throw .jumpOutOfRange(index: index, target: target)
      }
    }
  }

  /// Whether the opcode byte names an RFC 9669 instruction.
  static func isKnown(_ slot: Instruction) -> Bool {
    let opcode = slot.opcode
    switch slot.instructionClass {
    case .alu, .alu64:
      let operation = opcode & 0xf0
      if operation == 0x80 { return opcode & 0x08 == 0 }
      if operation == 0xd0 {
        return opcode == 0xd4 || opcode == 0xdc || opcode == 0xd7
      }
      return operation <= 0xc0
    case .jmp:
      let operation = opcode & 0xf0
      if operation == 0x00 || operation == 0x80 || operation == 0x90 { return opcode & 0x08 == 0 }
      return operation <= 0xd0
    case .jmp32:
      let operation = opcode & 0xf0
      if operation == 0x00 { return opcode == 0x06 }
      return operation <= 0xd0 && operation != 0x80 && operation != 0x90
    case .ldx:
      return [0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91].contains(opcode)
    case .st:
      return [0x62, 0x6a, 0x72, 0x7a].contains(opcode)
    case .stx:
      return [0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb].contains(opcode)
    case .ld:
      return [0x18, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50].contains(opcode)
    }
  }
}
