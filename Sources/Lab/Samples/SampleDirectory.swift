import Foundation
import Kernel

/// Where the bundled samples are (the compiled `Samples/*.bpf.c`): the one
/// rule `demo up`, `bench` and the console's attach chooser share.
///
/// In order, the first folder holding a `.o` file: `build/samples` in the
/// working directory (a checkout where `make samples` ran); `build/samples`
/// beside the executable or up to four folders above it (the package the
/// executable was built in: `.build/<triple>/<config>/xdpbatch`); and
/// `share/xdpbatch/samples` beside the executable's folder (an
/// installation: `PREFIX/bin/xdpbatch` with `PREFIX/share/xdpbatch/samples`).
public struct SampleDirectory: Hashable, Sendable {
  /// The folder.
  public var path: String

  /// The folder at `path`.
  public init(path: String) {
    self.path = path
  }

  /// Where the build puts the samples, relative to a checkout.
  public static let buildFolder = "build/samples"
  /// Where an installation keeps them, relative to its prefix.
  public static let installedFolder = "share/xdpbatch/samples"

  /// The folders the rule looks in, in order, for an executable at
  /// `executable` run from `workingDirectory`.
  public static func candidates(
    executable: String = Processes.currentExecutable,
    workingDirectory: String = FileManager.default.currentDirectoryPath
  ) -> [String] {
    var candidates = [workingDirectory + "/" + buildFolder]
    var directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
      .deletingLastPathComponent()
    let binary = directory
    for _ in 0...4 {
      candidates.append(directory.appendingPathComponent(buildFolder).path)
      directory = directory.deletingLastPathComponent()
    }
    candidates.append(
      binary.deletingLastPathComponent().appendingPathComponent(installedFolder).path)
    return candidates.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
  }

  /// The first candidate holding a compiled sample; nil when none does.
  public static func find(
    executable: String = Processes.currentExecutable,
    workingDirectory: String = FileManager.default.currentDirectoryPath
  ) -> SampleDirectory? {
    candidates(executable: executable, workingDirectory: workingDirectory)
      .first { !objects(in: $0).isEmpty }
      .map(SampleDirectory.init(path:))
  }

  /// The `.o` files of `folder`, sorted by name.
  static func objects(in folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
      .filter { $0.hasSuffix(".o") }.sorted()
  }

  /// The compiled samples, sorted by file name.
  public var objects: [String] { Self.objects(in: path).map { path + "/" + $0 } }

  /// The sample object `name` (`xdp_classify.o`).
  public func object(_ name: String) -> String { path + "/" + name }
}

/// No compiled samples where the rule looks.
public struct SamplesMissing: Error, Sendable, CustomStringConvertible {
  /// The folders looked in.
  public var looked: [String]

  /// Names the folders.
  public init(looked: [String]) {
    self.looked = looked
  }

  /// `no compiled samples in build/samples (looked in …)`.
  public var description: String {
    "no compiled samples (looked in \(looked.joined(separator: ", ")))"
  }
}
