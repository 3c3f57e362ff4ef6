import BPF

/// Why an edit of an ``InstructionBuffer`` was refused.
///
/// A refused edit leaves the buffer as it was. Every case names the slot
/// index in the buffer as it stood before the edit and, where one exists,
/// the index the instruction had in the original program, so that a message
/// can point at the jump in `xdpbatch disasm` output.
public enum PatchError: Error, Equatable, Sendable {
  /// An index given to an edit is outside the buffer.
  case indexOutOfRange(index: Int, count: Int)
  /// The edit would place instructions between the two slots of an
  /// `ld_imm64`, or replace only its second slot.
  case splitsWideLoad(index: Int)
  /// An `ld_imm64` has no proper second slot (in the buffer or in a patch).
  case malformedWideLoad(index: Int)
  /// A jump, call or code reference would land outside the buffer.
  case targetOutOfRange(index: Int, target: Int)
  /// A jump, call or code reference would land on the second slot of an
  /// `ld_imm64`.
  case targetInsideWideLoad(index: Int, target: Int)
  /// After the edit, a jump's distance no longer fits its field (16 bits
  /// for jumps, 32 bits for `gotol`, calls and code references).
  case distanceOverflow(index: Int, originalIndex: Int?, distance: Int)
  /// ``InstructionBuffer/retarget(at:to:)`` was asked to retarget a slot
  /// that is not a jump, a local call or a code reference.
  case notAReference(index: Int)
}

extension PatchError: CustomStringConvertible {
  /// A one-line message naming the instruction and what is wrong.
  public var description: String {
    switch self {
    case .indexOutOfRange(let index, let count):
      "instruction \(index) is outside the program (\(count) slots)"
    case .splitsWideLoad(let index):
      "instruction \(index): an edit may not split the two slots of ld_imm64"
    case .malformedWideLoad(let index):
      "instruction \(index): ld_imm64 without a valid second slot"
    case .targetOutOfRange(let index, let target):
      "instruction \(index): target \(target) is outside the program"
    case .targetInsideWideLoad(let index, let target):
      "instruction \(index): target \(target) is the second slot of ld_imm64"
    case .distanceOverflow(let index, let originalIndex, let distance):
      "instruction \(index)\(originalIndex.map { " (originally \($0))" } ?? ""): jump distance "
        + "\(distance) no longer fits its offset field; the program is too long to patch here"
    case .notAReference(let index):
      "instruction \(index) is not a jump, call or code reference"
    }
  }
}
