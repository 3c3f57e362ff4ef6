import BPF

/// Something a program does with its stack frame that the stack-frame
/// analysis cannot prove safe to move or to extend.
public enum StackHazard: Hashable, Sendable {
  /// A pointer derived from R10 is used with a variable offset whose range
  /// (`lower...upper`, from R10) could not be bounded within the
  /// verifier's limit (±2^29).
  case variableOffset(index: Int, lower: Int, upper: Int)
  /// A register that may or may not point into the frame (paths disagree)
  /// is used as an address or passed on.
  case ambiguousPointer(index: Int, register: Register)
  /// A pointer into the frame is passed to a bpf-to-bpf call. The callee
  /// may reach any part of the caller's frame through it (up to 512 bytes),
  /// which this intraprocedural analysis cannot bound.
  case passedToSubprogram(index: Int, register: Register)
  /// A pointer into the frame leaves the analysis' sight.
  case escapes(index: Int, how: Escape)
  /// R10 itself is read as a value other than by a 64-bit move, so a
  /// relocated frame would not be seen there.
  case framePointerRead(index: Int)
  /// R10 is written.
  case framePointerWritten(index: Int)
  /// A frame access falls outside `[-512, 0)`.
  case outsideFrame(index: Int, offset: Int, size: Int)
  /// A helper's argument points into the stack below `-512` (the
  /// verifier's "invalid indirect access to stack"): its reach, and the
  /// frame's depth, have no bound a batch loop's slots could go under.
  case argumentOutsideFrame(index: Int, register: Register, offset: Int)

  /// Ways a frame pointer escapes.
  public enum Escape: String, Hashable, Sendable {
    case storedOutsideFrame = "stored outside the stack frame"
    case partialSpill = "spilled with fewer than 8 bytes or misaligned"
    case arithmetic = "used in arithmetic other than adding a constant"
    case returned = "returned as the program's verdict"
    case compared = "compared with a value that is not a frame pointer"
    case atomicOperand = "used as an atomic operand"
    case variableSpill = "spilled at a variable stack offset"
  }

  /// The instruction the hazard is at.
  public var index: Int {
    switch self {
    case .variableOffset(let index, _, _), .ambiguousPointer(let index, _),
      .passedToSubprogram(let index, _), .escapes(let index, _), .framePointerRead(let index),
      .framePointerWritten(let index), .outsideFrame(let index, _, _),
      .argumentOutsideFrame(let index, _, _):
      index
    }
  }
}

extension StackHazard: CustomStringConvertible {
  /// A one-line message naming the instruction.
  public var description: String {
    switch self {
    case .variableOffset(let index, let lower, let upper):
      "instruction \(index): a stack pointer's variable offset is in "
        + "[\(Self.bound(lower)), \(Self.bound(upper))] from r10, which cannot be bounded "
        + "(bound the index, e.g. with a mask or a comparison, before adding it)"
    case .ambiguousPointer(let index, let register):
      "instruction \(index): \(register) may or may not point into the stack (paths disagree)"
    case .passedToSubprogram(let index, let register):
      "instruction \(index): stack pointer in \(register) passed to a bpf-to-bpf call; "
        + "the callee's reach into this frame cannot be bounded"
    case .escapes(let index, let how):
      "instruction \(index): a stack pointer is \(how.rawValue)"
    case .framePointerRead(let index):
      "instruction \(index): r10 used as a value other than by a 64-bit move"
    case .framePointerWritten(let index):
      "instruction \(index): writes r10, the read-only frame pointer"
    case .outsideFrame(let index, let offset, let size):
      "instruction \(index): \(size)-byte stack access at r10\(offset >= 0 ? "+" : "")\(offset) "
        + "is outside [-512, 0)"
    case .argumentOutsideFrame(let index, let register, let offset):
      "instruction \(index): the helper's argument \(register) points at r10\(offset), "
        + "below the 512-byte stack"
    }
  }

  /// An offset, or -inf/+inf past the verifier's limit.
  private static func bound(_ offset: Int) -> String {
    if offset < -FrameValue.offsetLimit { return "-inf" }
    if offset > FrameValue.offsetLimit { return "+inf" }
    return String(offset)
  }
}
