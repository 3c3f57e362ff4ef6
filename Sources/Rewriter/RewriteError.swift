import BPF

/// Why a program cannot be rewritten. Each case names the instruction (its
/// index in the input program) and says what the user can do; callers add
/// the object file and program name.
public enum RewriteError: Error, Equatable, Sendable {
  /// The input is not a well-formed instruction sequence.
  case malformedProgram(PatchError)
  /// An instruction of the input is not a valid eBPF instruction (RFC
  /// 9669): an unknown opcode, a register above R10, a reserved field set.
  case invalidInstruction(InstructionError)
  /// The kernel's verifier refuses the input in an XDP program
  /// (``XDPInstructionRules``), so it has no batch form to build.
  case refusedByVerifier(VerifierRefusal)
  /// The program calls `bpf_tail_call`, which never returns.
  case tailCall(index: Int)
  /// The main program has no `exit`.
  case noMainExit
  /// The stack analysis cannot prove the rewrite safe.
  case unprovableStack(StackHazard)
  /// The frame plus the reserved slots exceed the 512-byte BPF stack.
  case stackTooLarge(used: Int, reserved: Int)
  /// The batch size is not in 1...`Int32.max`.
  case invalidBatchSize(Int)
  /// The context layout cannot hold a batch (its stride is not positive).
  case invalidLayout(stride: Int32)
  /// An edit failed (a jump no longer fits after inserting code).
  case patchFailed(PatchError)
  /// The emitted program failed ``SafetyCheck``: a rewriter bug.
  case safetyCheckFailed([SafetyViolation])
  /// A kernel's verifier bounds batch records by the end of the batch only.
  case boundNotInKernel(BatchBound)
  /// The program redirects, and the kernel has no `bpf_xdp_batch_commit`
  /// to keep each record's target.
  case noCommitFunction
  /// The kernel's verifier refuses the program's use of its maps
  /// (``BPF/MapAccessRules``), so no form of it loads.
  case mapAccess(MapAccessRefusal)
}

extension RewriteError: CustomStringConvertible {
  /// A one-line message with the instruction index and a way forward.
  public var description: String {
    switch self {
    case .malformedProgram(let error): "malformed program: \(error)"
    case .invalidInstruction(let error): "not a valid eBPF program: \(error)"
    case .refusedByVerifier(let refusal):
      "\(refusal); the kernel would not load the program, so there is no batch form to build"
    case .tailCall(let index):
      "instruction \(index) calls bpf_tail_call, which never returns to the batch loop; "
        + "run this program per packet"
    case .noMainExit: "the main program has no exit instruction"
    case .unprovableStack(let hazard): "cannot prove the stack rewrite safe: \(hazard)"
    case .stackTooLarge(let used, let reserved) where reserved == 0:
      "the program uses \(used) bytes of stack, more than the kernel's 512"
    case .stackTooLarge(let used, let reserved):
      "the program uses \(used) bytes of stack; \(reserved) more for the batch loop exceed 512"
    case .invalidBatchSize(let size): "batch size \(size) is not between 1 and \(Int32.max)"
    case .invalidLayout(let stride): "context record stride \(stride) is not positive"
    case .patchFailed(let error): "patch failed: \(error)"
    case .safetyCheckFailed(let violations):
      "internal error, the rewritten program fails the safety check: "
        + violations.map(\.description).joined(separator: "; ")
    case .boundNotInKernel(let bound):
      "the kernel's verifier bounds batch records by the end of the batch: "
        + "--bound \(bound.rawValue) cannot run in the kernel; use --bound end-pointer"
    case .noCommitFunction:
      "the program redirects, and the kernel's BTF has no bpf_xdp_batch_commit to keep "
        + "each record's redirect target"
    case .mapAccess(let refusal): "\(refusal)"
    }
  }
}
