import Foundation
import Testing

/// The bundled sample BPF objects that `make samples` compiles into
/// `build/samples/*.o` at the package root.
enum SampleObjects {
  /// The package root, found from this file's path.
  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // Support
    .deletingLastPathComponent()  // BPFTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()

  /// `build/samples` under the package root.
  static let directory = packageRoot.appendingPathComponent("build/samples")

  /// Every compiled sample, sorted by name; empty before `make samples`.
  static let all: [URL] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".o") }.sorted().map { directory.appendingPathComponent($0) }
  }()

  /// Why sample tests are skipped, for `.enabled(if:)`.
  static let missingReason: Comment = "no sample objects in build/samples (run `make samples`)"
}
