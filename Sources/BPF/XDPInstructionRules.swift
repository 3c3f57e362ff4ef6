/// What the kernel's verifier refuses in an XDP program by its
/// instructions alone, before it tracks a single value, with the words its
/// log uses (kernel/bpf/verifier.c):
///
/// - `ld_abs`/`ld_ind`: `check_ld_abs` allows them only in socket filters
///   and TC programs ("BPF_LD_[ABS|IND] instructions not allowed for this
///   program type");
/// - `callx` (`call` with a register source): "BPF_CALL uses reserved
///   fields";
/// - a helper id outside the kernel's `enum bpf_func_id`: "invalid func
///   unknown#ID" (`check_helper_call`).
///
/// The engine refuses these when it prepares an XDP program and the
/// rewriter refuses to rewrite them, so neither runs or emits what no
/// kernel would load. (Which helpers an XDP program may call among the
/// kernel's is the engine's own list: it implements only those.)
public enum XDPInstructionRules {
  /// `__BPF_FUNC_MAX_ID` since Linux 6.2: the helper list ends at
  /// `bpf_cgrp_storage_delete` (211) and is frozen (new kernel functions
  /// are kfuncs).
  public static let helperLimit: Int32 = 212

  /// The first instruction the verifier refuses, or nil.
  ///
  /// - Parameter engineHelpers: helper ids outside the kernel's list that
  ///   are allowed anyway: the engine's own
  ///   ``HelperFunction/commitRedirect``, which only the batch form calls.
  public static func firstRefusal(
    in instructions: [Instruction], engineHelpers: Set<Int32> = []
  ) -> VerifierRefusal? {
    var index = 0
    while index < instructions.count {
      let instruction = instructions[index]
      defer { index += instruction.isWideImmediateLoad ? 2 : 1 }
      if instruction.instructionClass == .ld, !instruction.isWideImmediateLoad,
        instruction.accessMode == .absolute || instruction.accessMode == .indirect
      {
        return VerifierRefusal(
          index: index,
          reason: "BPF_LD_[ABS|IND] instructions not allowed for this program type")
      }
      if instruction.opcode == Opcode.callRegister {
        return VerifierRefusal(index: index, reason: "BPF_CALL uses reserved fields")
      }
      if instruction.isHelperCall {
        let id = instruction.immediate
        if (id < 0 || id >= helperLimit) && !engineHelpers.contains(id) {
          return VerifierRefusal(index: index, reason: "invalid func unknown#\(id)")
        }
      }
    }
    return nil
  }
}

/// An instruction the kernel's verifier refuses, and its reason in the
/// verifier's words.
public struct VerifierRefusal: Error, Hashable, Sendable, CustomStringConvertible {
  /// The instruction.
  public var index: Int
  /// What the verifier's log says.
  public var reason: String

  /// Describes a refusal.
  public init(index: Int, reason: String) {
    self.index = index
    self.reason = reason
  }

  /// `instruction 3: the kernel refuses this in an XDP program: …`.
  public var description: String {
    "instruction \(index): the kernel refuses this in an XDP program: \(reason)"
  }
}
