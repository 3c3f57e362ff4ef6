import Foundation
import TestSupport
import Testing

/// The bundled sample BPF objects that `make samples` compiles into
/// `build/samples/*.o` at the package root.
enum SampleObjects {
  /// Every compiled sample, sorted by name; empty before `make samples`.
  static let all = PackageLayout.sampleObjects

  /// Why sample tests are skipped, for `.enabled(if:)`.
  static let missingReason = Comment(rawValue: PackageLayout.samplesMissing)
}

extension LLVMToolchain {
  /// Why tests that need the toolchain are skipped, for `.enabled(if:)`.
  static let missingReason = Comment(rawValue: LLVMToolchain.missing)
}
