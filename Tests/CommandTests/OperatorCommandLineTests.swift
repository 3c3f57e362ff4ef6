import Foundation
import TestSupport
import Testing

/// Issue 13, items 11 and 12, through the built binary: `--program` may
/// be left out where the object has one XDP program, and validation
/// exits 2 with the rule, refusing options that would do nothing.
@Suite("operator command line", .enabled(if: Command.ready, Command.missingReason))
struct OperatorCommandLineTests {
  @Test func programIsOptionalWhereTheObjectHasOneXDPProgram() throws {
    let rewrite = try Command.run(["rewrite", Command.sample("xdp1")])
    #expect(rewrite.status == 0, "\(rewrite.errors)")
    #expect(rewrite.output.hasPrefix("xdp_prog1:"))
    let run = try Command.run([
      "run", Command.sample("xdp_classify"), "--form", "per-packet", "--packets", "20", "--json",
    ])
    #expect(run.status == 0, "\(run.errors)")
    #expect(try run.json()["program"] as? String == "xdp_classify_prog")
    // Two XDP programs: refused, naming them and the option.
    let two = try Command.run(["rewrite", Command.sample("xdp_tailcall")])
    #expect(two.status == 1)
    #expect(
      two.errors.contains(
        "has 2 XDP programs (xdp_tailcall_prog, xdp_tailcall_target); choose one with --program"))
    let chosen = try Command.run([
      "rewrite", Command.sample("xdp_tailcall"), "--program", "xdp_tailcall_target",
    ])
    #expect(chosen.output.hasPrefix("xdp_tailcall_target:"), "\(chosen.errors)")
  }

  @Test(arguments: [
    (["rewrite", "OBJ", "--batch", "0"], "--batch must be between 1 and 64, not 0"),
    (["rewrite", "OBJ", "--batch", "100000"], "--batch must be between 1 and 64, not 100000"),
    (["rewrite", "OBJ", "--json", "--listing"], "--listing has no place in --json output"),
    (["stats", "lo", "--interval", "-1"], "--interval must be above 0"),
    (
      ["run", "OBJ", "--form", "per-packet", "--batch", "8"],
      "--strategy, --bound and --batch shape the batch form and do nothing per packet"
    ),
    (
      ["run", "OBJ", "--strategy", "shift"],
      "--strategy, --bound and --batch shape the batch form and do nothing per packet"
    ),
    (["stats", "lo", "--interval", "1", "--count", "-2"], "--count must be at least 1"),
  ])
  func validationExitsTwoWithTheRule(arguments: [String], rule: String) throws {
    let result = try Command.run(
      arguments.map { $0 == "OBJ" ? Command.sample("xdp1") : $0 })
    #expect(result.status == 2, "\(arguments)")
    #expect(result.errors.hasPrefix("xdpbatch: error: \(rule)"), "\(result.errors)")
    #expect(result.output.isEmpty)
  }

  /// Item 13: the batch form's JSON says how it was made.
  @Test func runJSONRecordsTheBatchRewrite() throws {
    let batch = try Command.run([
      "run", Command.sample("xdp_classify"), "--form", "batch", "--strategy", "shift", "--bound",
      "count", "--batch", "8", "--packets", "32", "--json",
    ])
    #expect(batch.status == 0, "\(batch.errors)")
    let settings = try #require(try batch.json()["batch"] as? [String: Any])
    #expect(settings["strategy"] as? String == "shift")
    #expect(settings["bound"] as? String == "count")
    #expect(settings["size"] as? Int == 8)
    let perPacket = try Command.run([
      "run", Command.sample("xdp_classify"), "--form", "per-packet", "--packets", "8", "--json",
    ])
    #expect(try perPacket.json()["batch"] == nil)
  }
}
