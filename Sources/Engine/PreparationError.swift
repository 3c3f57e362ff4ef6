import BPF

/// Why a program cannot be prepared for the engine. Each case names the
/// instruction index, so a message points at the exact slot.
public enum PreparationError: Error, Equatable, Sendable {
  /// The instruction stream is structurally invalid.
  case invalidInstruction(InstructionError)
  /// The program has no instructions.
  case emptyProgram
  /// The program has more slots than the kernel loads (`E2BIG`).
  case tooManyInstructions(count: Int, limit: Int)
  /// The kernel's verifier refuses the instruction in an XDP program
  /// (``XDPInstructionRules``): the engine does too.
  case refusedByVerifier(VerifierRefusal)
  /// A helper call names a kernel helper the engine does not implement.
  case unknownHelper(index: Int, helper: Int32)
  /// A call of a kind the engine does not run (kfunc, register call).
  case unsupportedCall(index: Int, kind: UInt8)
  /// An `ld_imm64` whose source kind the engine cannot resolve.
  case unsupportedImmediateLoad(index: Int, kind: UInt8)
  /// A map reference to a map index the engine was not given.
  case unknownMap(index: Int, map: Int)
  /// An instruction writes R10, the read-only frame pointer.
  case frameRegisterWrite(index: Int)
  /// An access to the XDP context the kernel's verifier refuses
  /// (``ContextAccessCheck``).
  case contextAccess(ContextAccessRefusal)
  /// A use of a map's values or of a map helper the kernel's verifier
  /// refuses (``MapAccessRules``: a store into a DEVMAP or `.rodata`
  /// value, an update of a read-only map, ...), naming the map.
  case mapAccess(MapAccessRefusal)
}

extension PreparationError: CustomStringConvertible {
  /// A one-line message naming the instruction index.
  public var description: String {
    switch self {
    case .invalidInstruction(let error): error.description
    case .emptyProgram: "the program has no instructions"
    case .tooManyInstructions(let count, let limit):
      "the program has \(count) instruction slots; the kernel loads at most \(limit) (E2BIG)"
    case .refusedByVerifier(let refusal): refusal.description
    case .unknownHelper(let index, let helper):
      "instruction \(index): the engine does not implement helper \(HelperFunction(rawValue: helper))"
    case .unsupportedCall(let index, let kind):
      "instruction \(index): call kind \(kind) is not supported (only helpers and local calls)"
    case .unsupportedImmediateLoad(let index, let kind):
      "instruction \(index): ld_imm64 source kind \(kind) is not supported"
    case .unknownMap(let index, let map):
      "instruction \(index): map #\(map) does not exist"
    case .frameRegisterWrite(let index):
      "instruction \(index): r10 (frame pointer) is read-only"
    case .contextAccess(let refusal): refusal.description
    case .mapAccess(let refusal): refusal.description
    }
  }
}

/// Why a run stopped before the program exited. Each case names the
/// instruction index; nothing outside the engine's address space is touched.
public enum ExecutionError: Error, Equatable, Sendable {
  /// A load or store outside every region, or straddling two.
  case memoryFault(index: Int, address: UInt64, size: Int, write: Bool)
  /// The run executed more instructions than its budget.
  case instructionBudgetExceeded(index: Int, budget: Int)
  /// A bpf-to-bpf call would exceed the frame limit.
  case callDepthExceeded(index: Int, limit: Int)
  /// Control ran past the last instruction.
  case fellOffEnd(index: Int)
  /// A helper got an argument it cannot use (not a map, bad pointer, ...).
  case helperFault(index: Int, helper: Int32, reason: String)
}

extension ExecutionError: CustomStringConvertible {
  /// A one-line message naming the instruction index.
  public var description: String {
    switch self {
    case .memoryFault(let index, let address, let size, let write):
      "instruction \(index): \(write ? "write" : "read") of \(size) bytes at 0x\(String(address, radix: 16)) is out of bounds"
    case .instructionBudgetExceeded(let index, let budget):
      "instruction \(index): instruction budget of \(budget) exhausted (runaway loop?)"
    case .callDepthExceeded(let index, let limit):
      "instruction \(index): call depth exceeds \(limit) frames"
    case .fellOffEnd(let index):
      "instruction \(index): execution ran past the end of the program"
    case .helperFault(let index, let helper, let reason):
      "instruction \(index): \(HelperFunction(rawValue: helper)): \(reason)"
    }
  }
}
