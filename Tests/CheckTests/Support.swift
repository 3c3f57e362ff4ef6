import BPF
import Foundation
import TestSupport
import Testing

/// The bundled samples, compiled by `make samples` into `build/samples`.
enum Samples {
  /// Every compiled sample, sorted; empty before `make samples`.
  static let all = PackageLayout.sampleObjects

  static let missingReason = Comment(rawValue: PackageLayout.samplesMissing)

  /// Expects one compiled object for every sample source (Samples/*.bpf.c):
  /// a suite that takes every sample calls it, so it fails when `make
  /// samples` left it nothing (or less) to test, instead of passing empty.
  static func expectEveryOneCompiled(sourceLocation: SourceLocation = #_sourceLocation) throws {
    let sources = try FileManager.default.contentsOfDirectory(
      atPath: PackageLayout.root.appendingPathComponent("Samples").path
    ).filter { $0.hasSuffix(".bpf.c") }.map { String($0.dropLast(".bpf.c".count)) }.sorted()
    #expect(!sources.isEmpty, sourceLocation: sourceLocation)
    #expect(
      all.map { $0.deletingPathExtension().lastPathComponent } == sources, missingReason,
      sourceLocation: sourceLocation)
  }

  /// One sample by file name.
  static func named(_ name: String) -> URL {
    PackageLayout.samplesDirectory.appendingPathComponent(name)
  }
}

/// A fresh temporary directory.
func temporaryDirectory(_ label: String) throws -> URL {
  let directory = FileManager.default.temporaryDirectory
    .appendingPathComponent("xdpbatch-\(label)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  return directory
}

extension BuiltXDPBatch {
  static let missingReason = Comment(rawValue: BuiltXDPBatch.missing)
}

extension LLVMToolchain {
  static let missingReason = Comment(rawValue: LLVMToolchain.missing)
}
