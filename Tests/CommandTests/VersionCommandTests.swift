import Foundation
import Testing

/// `--version` and `xdpbatch version` print the release and the commit the
/// binary was built from, and exit 0.
@Suite("xdpbatch --version", .enabled(if: Command.ready, Command.missingReason))
struct VersionCommandTests {
  /// The commit of the checkout the tests run in, as the build recorded it.
  static var checkoutCommit: String? {
    guard let result = try? runGit(["rev-parse", "HEAD"]), result.status == 0 else { return nil }
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
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
    if let head = Self.checkoutCommit {
      #expect(head.hasPrefix(String(commit)))
    }
  }
}
