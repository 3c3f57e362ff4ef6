/// ``MapAccessRules`` on `map_lookup_elem`'s result before its null
/// check: the verifier's `map_value_or_null` (`xdp_sock_or_null` for an
/// XSKMAP), which no access or arithmetic may use (`check_mem_access`,
/// `adjust_ptr_min_max_vals`), until a 64-bit `jeq`/`jne` against the
/// immediate 0 makes it, and every copy of it, the value or a number
/// (`check_cond_jmp_op`, `mark_ptr_or_null_regs`).
extension MapValueFlow {
  /// The maps whose lookup the analysis holds null until checked. An
  /// ARRAY's or PERCPU_ARRAY's is not: the verifier takes it for the value
  /// when the key is a constant in bounds (`can_elide_value_nullness`),
  /// and keys are not followed here.
  static let nullableLookups: Set<MapType> = [
    .hash, .perCPUHash, .lruHash, .lruPerCPUHash, .lpmTrie, .devmap, .devmapHash, .xskmap,
  ]

  /// The verifier's name of a lookup's result before its null check.
  func nullableName(_ map: Int) -> String {
    maps[map].type == .xskmap ? "xdp_sock_or_null" : "map_value_or_null"
  }

  /// The lookups a `jeq`/`jne` checks for null: 64-bit, against the
  /// immediate 0 (`check_cond_jmp_op`; not a register holding 0, nor a
  /// 32-bit comparison).
  func nullCheck(_ instruction: Instruction, _ state: MapValueState) -> Set<Int>? {
    guard instruction.instructionClass == .jmp, instruction.operandSource == .immediate,
      instruction.immediate == 0,
      instruction.jumpOperation == .jeq || instruction.jumpOperation == .jne
    else { return nil }
    let dst = state.registers[Int(instruction.dst.rawValue)]
    return dst.unchecked.isEmpty ? nil : dst.unchecked
  }

  /// Arithmetic on a lookup's result not yet checked for null, which the
  /// verifier refuses before anything else (`adjust_ptr_min_max_vals`):
  /// a 64-bit operation of it and a number, other than a move.
  func uncheckedArithmetic(
    _ index: Int, _ instruction: Instruction, _ state: MapValueState
  ) -> MapAccessRefusal? {
    guard instruction.instructionClass == .alu64,
      let operation = instruction.arithmeticOperation, operation != .mov, operation != .neg,
      operation != .end
    else { return nil }
    let dst = state.registers[Int(instruction.dst.rawValue)]
    let src =
      instruction.operandSource == .register
      ? state.registers[Int(instruction.src.rawValue)] : .unknown
    let pointer: MapValueFacts
    switch (dst.isPointer, src.isPointer) {
    case (true, false): pointer = dst
    case (false, true): pointer = src
    default: return nil
    }
    guard !pointer.unchecked.isEmpty, let map = pointer.values.keys.min() else { return nil }
    return refusal(
      index, map,
      "R\(instruction.dst.rawValue) pointer arithmetic on \(nullableName(map)) prohibited,"
        + " null-check it first")
  }
}
