import Foundation
import TestSupport
import Testing

/// contrib/prometheus's recording rules pass `promtool check rules`, and
/// their unit tests (`xdpbatch.rules.test.yml`: the software datapath's
/// seconds per packet and socket drop rate on known series) pass
/// `promtool test rules`.
@Suite(
  .enabled(
    if: PrometheusServer.promtool != nil,
    "promtool is not installed (`make deps` installs Debian's prometheus)"))
struct RecordingRulesTests {
  static let directory = PackageLayout.root.appendingPathComponent("contrib/prometheus").path

  @Test func rulesCheckAndTheirUnitTestsPass() throws {
    let check = try promtool(
      ["check", "rules", Self.directory + "/xdpbatch.rules.yml"], input: "")
    #expect(check.status == 0, "promtool check rules: \(check.output)")
    #expect(check.output.contains("SUCCESS"), "\(check.output)")
    let test = try promtool(
      ["test", "rules", Self.directory + "/xdpbatch.rules.test.yml"], input: "")
    #expect(test.status == 0, "promtool test rules: \(test.output)")
    #expect(test.output.contains("SUCCESS"), "\(test.output)")
  }
}
