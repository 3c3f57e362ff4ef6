import ArgumentParser
import Console
import Foundation
import Lab

/// The release this source tree is, with the commit the binary was built
/// from (``BuildInfo``), as `xdpbatch --version` and `xdpbatch version` print it.
enum Version {
  /// The release number; raised when the command line's contract changes.
  static let release = "0.2.0"

  /// `xdpbatch 0.2.0 (commit 1a2b3c4d5e6f)`.
  static var description: String { "xdpbatch \(release) (commit \(BuildInfo.commit))" }

  /// How the binary was compiled: `release` (`swift build -c release`,
  /// what users install) or `debug`.
  static var build: String {
    #if DEBUG
      "debug"
    #else
      "release"
    #endif
  }
}

/// `xdpbatch version`: the same line as `--version`, for scripts that
/// prefer a subcommand; with `--json`, also how it was built and where it
/// finds its samples and theme files (an installation's `share/xdpbatch`).
struct VersionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "version",
    abstract: "Print the version and the commit this binary was built from.")

  @Flag(help: "Print one JSON document: version, commit, build, samples and theme folders.")
  var json = false

  func run() throws {
    guard json else {
      print(Version.description)
      return
    }
    let trust = ThemeTrust()
    var folders: [[String: Any]] = []
    for requested in ThemeCatalog.standardDirectories(
      environment: ProcessInfo.processInfo.environment)
    {
      switch trust.directory(requested) {
      case nil: continue
      case .success(let real)?:
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: real)) ?? [])
          .filter { $0.hasSuffix(".theme") }.sorted()
        folders.append(["path": real, "themes": files.map { String($0.dropLast(6)) }])
      case .failure(let problem)?:
        folders.append(["path": requested, "refused": problem.description])
      }
    }
    let document: [String: Any] = [
      "version": Version.release, "commit": BuildInfo.commit, "build": Version.build,
      "samples": SampleDirectory.find()?.path ?? NSNull(), "theme_folders": folders,
    ]
    let data = try JSONSerialization.data(
      withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
  }
}
