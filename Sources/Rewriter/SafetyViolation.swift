import BPF

/// One reason ``SafetyCheck`` refuses a program: each names the instruction
/// so that the rewriter's bug (the check runs on every program the rewriter
/// emits) can be found in a listing.
public enum SafetyViolation: Hashable, Sendable {
  /// An `ld_imm64` has no valid second slot.
  case malformedWideLoad(index: Int)
  /// A jump, call or code reference lands outside the program.
  case targetOutOfRange(index: Int, target: Int)
  /// A jump, call or code reference lands on the second slot of `ld_imm64`.
  case targetInsideWideLoad(index: Int, target: Int)
  /// A jump lands in another function (main program or subprogram).
  case jumpLeavesFunction(index: Int, target: Int)
  /// Control can run past the last instruction of a function.
  case fallsOffEnd(index: Int)
  /// No path from the entry reaches the instruction.
  case unreachable(index: Int)
  /// The instruction writes R10.
  case framePointerWritten(index: Int)
  /// A stack access falls outside `[-512, 0)`.
  case stackAccessOutsideFrame(index: Int, offset: Int, size: Int)
  /// A register is read on some path before any instruction defined it.
  case undefinedRegister(index: Int, register: Register)
  /// A back edge (a loop) that the program was not allowed to gain.
  case unexpectedBackEdge(ControlFlowEdge)
}

extension SafetyViolation: CustomStringConvertible {
  /// A one-line message naming the instruction.
  public var description: String {
    switch self {
    case .malformedWideLoad(let index): "instruction \(index): ld_imm64 without a second slot"
    case .targetOutOfRange(let index, let target):
      "instruction \(index): target \(target) is outside the program"
    case .targetInsideWideLoad(let index, let target):
      "instruction \(index): target \(target) is the middle of ld_imm64"
    case .jumpLeavesFunction(let index, let target):
      "instruction \(index): jump to \(target) leaves its function"
    case .fallsOffEnd(let index): "instruction \(index): control falls off the end of its function"
    case .unreachable(let index): "instruction \(index) is unreachable"
    case .framePointerWritten(let index): "instruction \(index) writes r10"
    case .stackAccessOutsideFrame(let index, let offset, let size):
      "instruction \(index): \(size)-byte stack access at r10\(offset >= 0 ? "+" : "")\(offset) "
        + "is outside [-512, 0)"
    case .undefinedRegister(let index, let register):
      "instruction \(index) reads \(register) before it is defined on some path"
    case .unexpectedBackEdge(let edge): "new back edge \(edge): the program gained a loop"
    }
  }
}
