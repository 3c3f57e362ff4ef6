import Foundation
import TestSupport
import Testing

/// The conditions the suites that run the kernel, the built binary or a
/// compiled object are enabled on; each skips with the reason (and how
/// to fix it) when it does not hold.
extension Trait where Self == ConditionTrait {
  /// BPF and namespaces usable (root).
  public static var kernelAccess: Self {
    .enabled(if: KernelAccess.available, KernelAccess.comment)
  }

  /// The `xdpbatch` executable built (`XDPBATCH_BINARY`, or `swift build`).
  public static var builtXDPBatch: Self {
    .enabled(if: BuiltXDPBatch.url != nil, Comment(rawValue: BuiltXDPBatch.missing))
  }

  /// The bundled sample `name` compiled (`make samples`).
  public static func sample(_ name: String) -> Self {
    .enabled(
      if: FileManager.default.fileExists(atPath: PackageLayout.sample(name)),
      Comment(rawValue: PackageLayout.samplesMissing))
  }

  /// The corpus program `name` compiled (`make corpus`).
  public static func corpus(_ name: String) -> Self {
    .enabled(
      if: FileManager.default.fileExists(atPath: PackageLayout.corpus(name)),
      Comment(rawValue: PackageLayout.corpusMissing))
  }
}
