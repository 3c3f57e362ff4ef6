import Foundation
import Glibc
import TestSupport
import Testing

/// `bench`'s datapath section through the built command line: its rows
/// and keys on a veth pair, its skip without root, its options.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct BenchDatapathTests {
  static let samples = URL(fileURLWithPath: PackageLayout.sample("xdp1"))
    .deletingLastPathComponent().path

  static func section(_ result: ProcessResult) throws -> [String: Any] {
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
    return try #require(document["datapath"] as? [String: Any])
  }

  @Test func measuresEveryRowOnAVethPair() throws {
    let result = try BuiltXDPBatch.run([
      "bench", "--only-datapath", "--datapath-seconds", "0.2", "--json", "--samples", Self.samples,
    ])
    try #require(result.status == 0, "\(result.errors)")
    let section = try Self.section(result)
    #expect(section["skipped"] == nil, "\(section["skipped"] ?? "")")
    let rows = try #require(section["rows"] as? [[String: Any]])
    #expect(
      rows.map { $0["kind"] as? String } == ["kernel", "bare", "bare"]
        + Array(
          repeating: "software", count: 10))
    for row in rows {
      #expect(((row["acted_mpps"] as? NSNumber)?.doubleValue ?? 0) > 0, "\(row)")
      #expect(row["generator_bound"] is Bool)
    }
    // Each software row is compared with the bare loop measured right before it.
    for row in rows where row["kind"] as? String == "software" {
      let acted = try #require((row["acted_mpps"] as? NSNumber)?.doubleValue)
      let reference = try #require(
        (row["reference_acted_mpps"] as? NSNumber)?.doubleValue, "\(row)")
      let ratio = try #require((row["ratio"] as? NSNumber)?.doubleValue)
      #expect(reference > 0)
      #expect(abs(ratio - acted / reference) < 1e-9 * max(1, ratio), "\(row)")
    }
    let classify = rows.filter { $0["program"] as? String == "xdp_classify_prog" }
    #expect(classify.count == 4)
    for row in classify {
      let actions = try #require(row["actions"] as? [String: Any])
      #expect(actions.count == 5, "all five verdicts: \(actions)")
    }
    #expect(classify.filter { $0["group_actions"] as? Bool == true }.count == 2)
    let transmit = rows.filter { $0["program"] as? String == "xdp_tx" }
    #expect(transmit.allSatisfy { $0["reference"] as? String == "send-back" })
    #expect(rows.filter { $0["engine"] as? String == "interpreter" }.count == 2)
    let machine = try #require(section["machine"] as? [String: Any])
    #expect((machine["processors"] as? Int ?? 0) > 0)
    // The veth pair and its namespace are gone.
    let links = try runProcess(URL(fileURLWithPath: DatapathAccess.ip), ["-o", "link"])
    #expect(!links.output.contains("xbb"), "left behind: \(links.output)")
  }

  @Test func skipsTheSectionWithTheReasonWithoutRoot() throws {
    let result = try BuiltXDPBatch.run(
      ["bench", "--only-datapath", "--json", "--samples", Self.samples], asNobody: true)
    try #require(result.status == 0, "\(result.errors)")
    let section = try Self.section(result)
    #expect((section["skipped"] as? String)?.contains("needs root") == true)
    #expect((section["rows"] as? [Any])?.isEmpty == true)
  }

  @Test func skipAndOnlyExcludeEachOther() throws {
    let result = try BuiltXDPBatch.run(["bench", "--skip-datapath", "--only-datapath"])
    #expect(result.status == 2, "\(result.errors)")
  }
}
