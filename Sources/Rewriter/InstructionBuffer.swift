import BPF

/// An instruction sequence that can be patched the way the kernel's verifier
/// patches programs (`bpf_patch_insn_single`, `bpf_remove_insns`): every edit
/// keeps every jump, `gotol`, bpf-to-bpf call and `BPF_PSEUDO_FUNC` reference
/// pointing at the same instruction it pointed at before.
///
/// Each rewriting step is a small pass over one buffer. The buffer also
/// remembers which original instruction each slot came from, so that a
/// listing can show where an instruction moved and a pass can find an
/// original instruction after earlier passes inserted code before it.
///
/// Rules, as in the kernel:
/// - An `ld_imm64` is one instruction of two slots. No edit splits it.
/// - Distances stored in *inserted* instructions are taken as written, in
///   the layout after the edit. Use ``retarget(at:to:)`` to aim an inserted
///   jump at an instruction whose position is known only later.
/// - A distance that no longer fits its field fails the edit with
///   ``PatchError/distanceOverflow(index:originalIndex:distance:)``.
public struct InstructionBuffer: Hashable, Sendable {
  /// The slots, in order.
  public private(set) var instructions: [Instruction]
  /// For each slot, the index it had in the sequence the buffer was made
  /// from, or nil for an inserted slot.
  public private(set) var origins: [Int?]

  /// Where jumps that targeted the insertion point land after an insertion.
  public enum Landing: Sendable {
    /// On the first inserted instruction (code inserted *before* the
    /// target runs on every path that reached it).
    case onInserted
    /// On the original instruction after the inserted code (the inserted
    /// code runs only when control falls into it from above).
    case onOriginal
  }

  /// Wraps a sequence, checking that its `ld_imm64` pairs are complete and
  /// that every reference lands on an instruction inside it.
  public init(_ instructions: [Instruction]) throws(PatchError) {
    try Self.validate(instructions)
    self.instructions = instructions
    self.origins = instructions.indices.map { $0 }
  }

  /// The number of slots.
  public var count: Int { instructions.count }

  /// Where the instruction that had index `original` is now, or nil if it
  /// was removed.
  public func location(ofOriginal original: Int) -> Int? {
    origins.firstIndex(of: original)
  }

  /// Whether `index` is the second slot of an `ld_imm64`.
  public func isSecondSlot(_ index: Int) -> Bool {
    Self.isSecondSlot(index, in: instructions)
  }

  /// Inserts `patch` before slot `index` (`index == count` appends).
  public mutating func insert(
    _ patch: [Instruction], at index: Int, landing: Landing = .onInserted
  ) throws(PatchError) {
    guard (0...count).contains(index) else { throw .indexOutOfRange(index: index, count: count) }
    guard !isSecondSlot(index) else { throw .splitsWideLoad(index: index) }
    try splice(index..<index, with: patch, landOnPatch: landing == .onInserted)
  }

  /// Replaces the instruction at `index` (both slots of an `ld_imm64`) with
  /// `patch`; references to it land on the patch's first slot, which takes
  /// over its place in ``origins``.
  public mutating func replace(at index: Int, with patch: [Instruction]) throws(PatchError) {
    let range = try instructionRange(at: index)
    if range.count == 1, patch.count == 1, !patch[0].isWideImmediateLoad,
      CodeReference(instructions[index]) == nil
    {
      // One slot for one, and the old slot aimed nowhere: nothing moves and
      // no other reference changes, so only the new slot's own target needs
      // checking (what keeps a pass over every stack access linear).
      if let target = patch[0].referenceTarget(at: index) {
        try Self.checkTarget(target, from: index, in: instructions)
      }
      instructions[index] = patch[0]
      return
    }
    try splice(range, with: patch, landOnPatch: true)
  }

  /// Removes the instruction at `index`; references to it land on the
  /// instruction that follows.
  public mutating func remove(at index: Int) throws(PatchError) {
    let range = try instructionRange(at: index)
    try splice(range, with: [], landOnPatch: true)
  }

  /// Aims the jump, local call or code reference at `index` at `target`.
  public mutating func retarget(at index: Int, to target: Int) throws(PatchError) {
    guard instructions.indices.contains(index) else {
      throw .indexOutOfRange(index: index, count: count)
    }
    guard let kind = CodeReference(instructions[index]) else { throw .notAReference(index: index) }
    try Self.checkTarget(target, from: index, in: instructions)
    guard let patched = kind.encoding(target - index - 1, in: instructions[index]) else {
      throw .distanceOverflow(
        index: index, originalIndex: origins[index], distance: target - index - 1)
    }
    instructions[index] = patched
  }

  private func instructionRange(at index: Int) throws(PatchError) -> Range<Int> {
    guard instructions.indices.contains(index) else {
      throw .indexOutOfRange(index: index, count: count)
    }
    guard !isSecondSlot(index) else { throw .splitsWideLoad(index: index) }
    return index..<(index + (instructions[index].isWideImmediateLoad ? 2 : 1))
  }

  /// Replaces `range` with `patch` and fixes every reference outside the
  /// patch. A target at `range.lowerBound` lands on the patch when
  /// `landOnPatch`, else on the slot after it.
  private mutating func splice(
    _ range: Range<Int>, with patch: [Instruction], landOnPatch: Bool
  ) throws(PatchError) {
    try Self.validateWideLoads(patch, reportingFrom: range.lowerBound)
    let delta = patch.count - range.count
    func moved(_ target: Int) -> Int {
      if target < range.lowerBound { return target }
      if target == range.lowerBound && landOnPatch { return target }
      return target + delta
    }
    var result = Array(instructions[..<range.lowerBound]) + patch
    result += instructions[range.upperBound...]
    var newOrigins = Array(origins[..<range.lowerBound])
    newOrigins += patch.indices.map { $0 == 0 && range.count > 0 ? origins[range.lowerBound] : nil }
    newOrigins += origins[range.upperBound...]

    for oldIndex in instructions.indices where !range.contains(oldIndex) {
      guard let target = instructions[oldIndex].referenceTarget(at: oldIndex),
        let kind = CodeReference(instructions[oldIndex])
      else { continue }
      let newIndex = moved(oldIndex)
      let distance = moved(target) - newIndex - 1
      guard let patched = kind.encoding(distance, in: instructions[oldIndex]) else {
        throw .distanceOverflow(
          index: oldIndex, originalIndex: origins[oldIndex], distance: distance)
      }
      result[newIndex] = patched
    }
    try Self.validate(result)
    instructions = result
    origins = newOrigins
  }

  /// In a buffer (always validated) a second slot has opcode 0, so it can
  /// never itself start an `ld_imm64`: the slot before is enough to tell.
  private static func isSecondSlot(_ index: Int, in instructions: [Instruction]) -> Bool {
    index > 0 && index <= instructions.count && instructions[index - 1].isWideImmediateLoad
  }

  private static func validate(_ instructions: [Instruction]) throws(PatchError) {
    try validateWideLoads(instructions, reportingFrom: 0)
    let secondSlots = instructions.secondSlotMask
    for index in instructions.indices where !secondSlots[index] {
      guard let target = instructions[index].referenceTarget(at: index) else { continue }
      guard instructions.indices.contains(target) else {
        throw .targetOutOfRange(index: index, target: target)
      }
      guard !secondSlots[target] else { throw .targetInsideWideLoad(index: index, target: target) }
    }
  }

  private static func validateWideLoads(
    _ instructions: [Instruction], reportingFrom base: Int
  ) throws(PatchError) {
    var index = 0
    while index < instructions.count {
      if instructions[index].isWideImmediateLoad {
        guard index + 1 < instructions.count, instructions[index + 1].isWideLoadContinuation else {
          throw .malformedWideLoad(index: base + index)
        }
        index += 2
      } else {
        index += 1
      }
    }
  }

  private static func checkTarget(
    _ target: Int, from index: Int, in instructions: [Instruction]
  ) throws(PatchError) {
    guard instructions.indices.contains(target) else {
      throw .targetOutOfRange(index: index, target: target)
    }
    guard !isSecondSlot(target, in: instructions) else {
      throw .targetInsideWideLoad(index: index, target: target)
    }
  }
}

extension [Instruction] {
  /// For each slot, whether it is the second half of an `ld_imm64`.
  var secondSlotMask: [Bool] {
    var mask = [Bool](repeating: false, count: count)
    var index = 0
    while index < count {
      if self[index].isWideImmediateLoad, index + 1 < count {
        mask[index + 1] = true
        index += 2
      } else {
        index += 1
      }
    }
    return mask
  }
}

extension Instruction {
  /// Whether this slot can be the second half of an `ld_imm64`: opcode,
  /// registers and offset all zero.
  var isWideLoadContinuation: Bool {
    opcode == 0 && dst == .r0 && src == .r0 && offset == 0
  }
}

extension InstructionBuffer {
  /// A buffer holding `program`'s instructions, for a rewrite pass; a
  /// program the buffer cannot hold is a ``RewriteError/malformedProgram(_:)``.
  init(rewriting program: Program) throws(RewriteError) {
    do {
      try self.init(program.instructions)
    } catch {
      throw .malformedProgram(error)
    }
  }
}
