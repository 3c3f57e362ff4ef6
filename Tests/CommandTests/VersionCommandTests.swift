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

  /// `version --json` says how the binary was built; `make test` sets
  /// XDPBATCH_EXPECT_BUILD=release, so a run that tested the debug binary
  /// instead of what users install fails here.
  @Test("version --json: build, samples and theme folders")
  func jsonSaysHowItWasBuilt() throws {
    let result = try Command.run(["version", "--json"])
    #expect(result.status == 0, "\(result.errors)")
    let document = try result.json()
    #expect(document["version"] as? String == "0.2.0")
    let build = try #require(document["build"] as? String)
    #expect(["release", "debug"].contains(build))
    if let expected = ProcessInfo.processInfo.environment["XDPBATCH_EXPECT_BUILD"] {
      #expect(build == expected, "the tests ran the \(build) binary")
    }
    // Run from the checkout: the samples are the checkout's build/samples.
    let samples = try #require(document["samples"] as? String)
    #expect(samples.hasSuffix("/build/samples"))
    #expect(document["theme_folders"] is [[String: Any]])
  }
}
