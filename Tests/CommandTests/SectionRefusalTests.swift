import Foundation
import TestSupport
import Testing

/// `run`, `rewrite` and `check` handle XDP programs only: a program from a
/// `socket` or `tc` section is refused with its section's name, exit 1.
@Suite(
  .enabled(
    if: BuiltXDPBatch.url != nil
      && FileManager.default.fileExists(atPath: PackageLayout.corpus("other_sections")),
    "needs the built xdpbatch (swift build) and the corpus (make corpus)"))
struct SectionRefusalTests {
  static let object = PackageLayout.corpus("other_sections")

  @Test(arguments: [
    (["run"], "socket_filter", "socket"), (["rewrite"], "tc_pass", "tc"),
    (["check"], "socket_filter", "socket"),
  ])
  func nonXDPProgramsAreRefusedNamingTheSection(
    _ command: [String], _ program: String, _ section: String
  ) throws {
    let mode = command == ["run"] ? ["--mode", "per-packet"] : []
    let result = try Command.run(command + [Self.object, "--program", program] + mode)
    #expect(result.status == 1, "\(command): \(result.errors)")
    #expect(
      result.errors.contains("program '\(program)' is in section '\(section)', not an XDP section"),
      "\(command): \(result.errors)")
  }
}
