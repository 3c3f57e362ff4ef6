import Foundation
import Testing

/// `--version` and `xdpbatch version` print the release and the commit the
/// binary was built from, and exit 0.
@Suite("xdpbatch --version", .enabled(if: Command.ready, Command.missingReason))
struct VersionCommandTests {
  /// Whether `commit` names a commit of the checkout the tests run in
  /// (`nil` when git cannot tell, e.g. outside a checkout). Not HEAD: a
  /// commit made after the build would move it.
  static func checkoutHas(_ commit: String) -> Bool? {
    guard let result = try? runGit(["cat-file", "-e", commit + "^{commit}"]) else { return nil }
    return result.status == 0
  }

  static func runGit(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
    process.arguments =
      ["-C", URL(fileURLWithPath: #filePath).deletingLastPathComponent().path]
      + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test("both spellings print one line: release and commit")
  func printsReleaseAndCommit() throws {
    let flag = try Command.run(["--version"])
    let subcommand = try Command.run(["version"])
    #expect(flag.status == 0)
    #expect(subcommand.status == 0)
    #expect(flag.output == subcommand.output)
    #expect(flag.errors.isEmpty)
    let line = flag.output.trimmingCharacters(in: .newlines)
    let match = line.wholeMatch(of: /xdpbatch (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12})(-dirty)?\)/)
    let commit = try #require(match, "unexpected version line: \(line)").output.2
    if let known = Self.checkoutHas(String(commit)) {
      #expect(known, "\(commit) is not a commit of this checkout")
    }
  }
}
