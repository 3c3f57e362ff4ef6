import Foundation
import Testing

/// Every failure is one message under one prefix: `xdpbatch: error: …` on
/// standard error, exit 1 for a failed operation and 2 for a usage error.
@Suite("error messages", .enabled(if: Command.ready, Command.missingReason))
struct ErrorMessageTests {
  @Test("a usage error: the prefix, the rule, the usage; exit 2")
  func usageErrorHasThePrefix() throws {
    let result = try Command.run(["disasm", Command.sample("xdp1"), "--bogus"])
    #expect(result.status == 2)
    #expect(result.output.isEmpty)
    #expect(result.errors.hasPrefix("xdpbatch: error: Unknown option '--bogus'"))
    #expect(result.errors.contains("Usage: xdpbatch disasm"))
  }

  @Test("a file that is a directory or missing: the path and the reason in plain words")
  func fileErrorsArePlain() throws {
    let directory = try Command.run(["disasm", "/tmp"])
    #expect(directory.status == 1)
    #expect(directory.errors == "xdpbatch: error: /tmp: cannot read the file: is a directory\n")
    let missing = try Command.run(["rewrite", "/nonexistent/x.o", "--program", "p"])
    #expect(missing.status == 1)
    #expect(
      missing.errors
        == "xdpbatch: error: /nonexistent/x.o: cannot read the file: no such file or directory\n")
    #expect(!missing.errors.contains("NSCocoaErrorDomain"))
  }
}
