import TestSupport
import Testing

extension LLVMToolchain {
  /// Why tests that need the toolchain are skipped, for `.enabled(if:)`.
  static let missingReason = Comment(rawValue: LLVMToolchain.missing)
}
