import BPF

/// The kinds of slot whose field holds a distance to another instruction,
/// which every insertion or removal must keep pointing at the same target
/// (what the kernel's `bpf_adj_branches` walks).
enum CodeReference {
  /// A jump with its distance in the 16-bit `offset`.
  case jump
  /// `gotol`: a jump with its distance in the 32-bit `immediate`.
  case longJump
  /// A bpf-to-bpf call (`call` with source 1), distance in `immediate`.
  case localCall
  /// `ld_imm64` with source 4 (`BPF_PSEUDO_FUNC`): the address of a
  /// subprogram, distance in the first slot's `immediate`.
  case functionAddress

  /// The reference kind of `instruction`, or nil if it refers to no slot.
  init?(_ instruction: Instruction) {
    if instruction.isBranch {
      self = instruction.opcode == Opcode.longJump ? .longJump : .jump
    } else if instruction.isLocalCall {
      self = .localCall
    } else if instruction.immediateLoadKind == .codeAddress {
      self = .functionAddress
    } else {
      return nil
    }
  }

  /// The distance the slot stores, from the slot after it to the target.
  func distance(in instruction: Instruction) -> Int {
    self == .jump ? Int(instruction.offset) : Int(instruction.immediate)
  }

  /// `instruction` with its distance replaced, or nil if the distance does
  /// not fit the field.
  func encoding(_ distance: Int, in instruction: Instruction) -> Instruction? {
    var patched = instruction
    if self == .jump {
      guard let offset = Int16(exactly: distance) else { return nil }
      patched.offset = offset
    } else {
      guard let immediate = Int32(exactly: distance) else { return nil }
      patched.immediate = immediate
    }
    return patched
  }
}

extension Instruction {
  /// For a slot that refers to another instruction: the absolute index of
  /// the target, given the slot's own index.
  public func referenceTarget(at index: Int) -> Int? {
    CodeReference(self).map { index + 1 + $0.distance(in: self) }
  }
}
