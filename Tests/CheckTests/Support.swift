import BPF
import Foundation
import TestSupport
import Testing

/// The bundled samples, compiled by `make samples` into `build/samples`.
enum Samples {
  /// Every compiled sample, sorted; empty before `make samples`.
  static let all = PackageLayout.sampleObjects

  static let missingReason = Comment(rawValue: PackageLayout.samplesMissing)

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
