import Foundation
import PackagePlugin

/// Writes `BuildInfo.swift` into the target before each build: the commit
/// the build came from (`git describe --always --dirty`), so that
/// `xdpbatch --version` names it. Outside a git checkout it says "unknown".
@main
struct BuildInfo: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    let output = context.pluginWorkDirectoryURL.appending(path: "Generated")
    let file = output.appending(path: "BuildInfo.swift").path
    let package = context.package.directoryURL.path
    let script = """
      mkdir -p '\(output.path)'
      commit=$(git -C '\(package)' describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null || echo unknown)
      text="/// Generated at build time by the BuildInfo plugin.
      enum BuildInfo {
        /// The commit this binary was built from.
        static let commit = \\"$commit\\"
      }"
      [ -f '\(file)' ] && [ "$(cat '\(file)')" = "$text" ] || printf '%s\\n' "$text" > '\(file)'
      """
    return [
      .prebuildCommand(
        displayName: "BuildInfo: the build's commit",
        executable: URL(fileURLWithPath: "/bin/sh"),
        arguments: ["-c", script],
        outputFilesDirectory: output)
    ]
  }
}
