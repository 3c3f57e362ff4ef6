import ArgumentParser

/// The release this source tree is, with the commit the binary was built
/// from (``BuildInfo``), as `xdpbatch --version` and `xdpbatch version` print it.
enum Version {
  /// The release number; raised when the command line's contract changes.
  static let release = "0.2.0"

  /// `xdpbatch 0.2.0 (commit 1a2b3c4d5e6f)`.
  static var description: String { "xdpbatch \(release) (commit \(BuildInfo.commit))" }
}

/// `xdpbatch version`: the same line as `--version`, for scripts that
/// prefer a subcommand.
struct VersionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "version",
    abstract: "Print the version and the commit this binary was built from.")

  func run() {
    print(Version.description)
  }
}
