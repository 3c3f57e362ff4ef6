import BPF

/// When the batch epilogue must keep a record's redirect target.
///
/// `bpf_redirect` and `bpf_redirect_map` leave their target in per-CPU
/// state (the kernel's `bpf_redirect_info`) and return the verdict; the
/// next record would overwrite it before the runner acts on this one, so
/// the epilogue commits it to the record. The commit is a call, which
/// costs more than many programs' whole body; it is needed only where a
/// target can be pending.
enum RedirectCommit: Equatable {
  /// The program never sets a redirect target.
  case never
  /// After every record.
  case always
  /// Only after a record whose verdict is `XDP_REDIRECT`: every call of
  /// a redirect helper is in the main program and its result is the
  /// program's return value (`return bpf_redirect(…)`: the call is
  /// followed by `exit`, through unconditional jumps and register moves
  /// that carry the result into R0 only, as clang writes `r6 = r0; w0 =
  /// w6` for a result kept in a variable). Those helpers
  /// set a target exactly when they return `XDP_REDIRECT`, and a failed
  /// lookup clears it, so after any other verdict nothing is pending and
  /// nothing leaks into the next record.
  case afterRedirectVerdict

  /// What `program` needs.
  init(_ program: Program) {
    let instructions = program.instructions
    var calls: [Int] = []
    var index = 0
    while index < instructions.count {
      let instruction = instructions[index]
      // A helper chosen at run time may be a redirect helper.
      if instruction.opcode == Opcode.callRegister { calls.append(index) }
      if instruction.isHelperCall && HelperFunction(rawValue: instruction.immediate).setsRedirectTarget {
        calls.append(index)
      }
      index += instruction.isWideImmediateLoad ? 2 : 1
    }
    if calls.isEmpty {
      self = .never
    } else if calls.allSatisfy({ Self.returnsResult(ofCallAt: $0, in: program) }) {
      self = .afterRedirectVerdict
    } else {
      self = .always
    }
  }

  /// Whether the helper call at `call` (a main-program helper call) is
  /// followed by the main program's `exit` with nothing between but
  /// unconditional jumps and register-to-register moves (64-bit, or
  /// 32-bit: a verdict fits in 32 bits), so that R0 at the exit is the
  /// call's result.
  private static func returnsResult(ofCallAt call: Int, in program: Program) -> Bool {
    let instructions = program.instructions
    let mainLength = min(program.mainLength, instructions.count)
    guard instructions[call].isHelperCall, call < mainLength else { return false }
    let moves: Set<UInt8> = [true, false].map { Opcode.arithmetic(.mov, .register, wide: $0) }
      .reduce(into: []) { $0.insert($1) }
    var holdsResult: Set<Register> = [.r0]
    var index = call + 1
    var visited: Set<Int> = []
    while index >= 0, index < mainLength, visited.insert(index).inserted {
      let instruction = instructions[index]
      if instruction.isExit { return holdsResult.contains(.r0) }
      if moves.contains(instruction.opcode) && instruction.offset == 0 {
        // `dst = src` (offset 0: not a sign-extending move).
        if holdsResult.contains(instruction.src) {
          holdsResult.insert(instruction.dst)
        } else {
          holdsResult.remove(instruction.dst)
        }
        index += 1
        continue
      }
      guard instruction.opcode == Opcode.jump || instruction.opcode == Opcode.longJump,
        let distance = instruction.branchDistance
      else { return false }
      index += 1 + distance
    }
    return false
  }
}
