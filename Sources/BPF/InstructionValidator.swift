/// Decides whether an instruction stream is a well-formed eBPF program in
/// the sense of RFC 9669: the structural checks that the kernel's verifier
/// makes before it looks at types and values (`check_subprogs`, the first
/// half of `check_cfg`).
///
/// A stream passes when
/// - every slot is an instruction of RFC 9669 with its unused fields zero
///   (``Instruction/checkEncoding(at:)``);
/// - every `ld_imm64` has a proper second slot, so it is not the last slot;
/// - every jump, `gotol`, local call and code-address `ld_imm64` (kind
///   ``ImmediateLoadKind/codeAddress``) lands on an instruction of the
///   stream, never past either end and never on the second slot of an
///   `ld_imm64`;
/// - the last instruction is `exit` or an unconditional jump, so that
///   execution cannot run off the end.
///
/// It does not track register types, stack use or reachability: that is
/// the verifier's (and the engine's) business. An unlinked ELF section whose
/// calls still hold their relocation placeholder (`call -1`, a call to
/// itself) passes, because the placeholder is a target inside the section.
public struct InstructionValidator: Sendable {
  /// Makes a validator.
  public init() {}

  /// Validates a whole instruction stream.
  ///
  /// - Throws: the first problem found, as an ``InstructionError`` naming
  ///   the slot index; slots are examined in order.
  public func validate(_ instructions: [Instruction]) throws(InstructionError) {
    let continuations = try checkSlots(instructions)
    try checkTargets(instructions, continuations: continuations)
    try checkEnd(instructions, continuations: continuations)
  }

  /// Checks each slot on its own and pairs every `ld_imm64` with its second
  /// slot; returns the indices of those second slots.
  private func checkSlots(_ instructions: [Instruction]) throws(InstructionError) -> Set<Int> {
    var continuations: Set<Int> = []
    var index = 0
    while index < instructions.count {
      let instruction = instructions[index]
      try instruction.checkEncoding(at: index)
      if instruction.isWideImmediateLoad {
        guard index + 1 < instructions.count else { throw .malformedWideLoad(index: index) }
        do {
          try instructions[index + 1].checkWideLoadContinuation(at: index + 1)
        } catch {
          throw .malformedWideLoad(index: index)
        }
        continuations.insert(index + 1)
        index += 2
      } else {
        index += 1
      }
    }
    return continuations
  }

  private func checkTargets(_ instructions: [Instruction], continuations: Set<Int>)
    throws(InstructionError)
  {
    for (index, instruction) in instructions.enumerated() where !continuations.contains(index) {
      guard let target = instruction.controlTarget(at: index) else { continue }
      guard instructions.indices.contains(target), !continuations.contains(target) else {
        throw .jumpOutOfRange(index: index, target: target)
      }
    }
  }

  private func checkEnd(_ instructions: [Instruction], continuations: Set<Int>)
    throws(InstructionError)
  {
    guard let lastSlot = instructions.indices.last else { throw .emptyProgram }
    let last = continuations.contains(lastSlot) ? lastSlot - 1 : lastSlot
    let instruction = instructions[last]
    let endsFlow =
      instruction.isExit || instruction.opcode == Opcode.jump
      || instruction.opcode == Opcode.longJump
    guard endsFlow else { throw .fallsOffEnd(index: last) }
  }
}

extension Instruction {
  /// For instructions that name another instruction (jumps, `gotol`, local
  /// calls, code-address `ld_imm64`): the target's index, given this
  /// slot's index. The target is not checked; it may lie outside the
  /// stream.
  public func controlTarget(at index: Int) -> Int? {
    if let distance = branchDistance { return index + 1 + distance }
    if isLocalCall { return index + 1 + Int(immediate) }
    if immediateLoadKind == .codeAddress { return index + 1 + Int(immediate) }
    return nil
  }
}
