import Datapath
import Foundation
import Glibc
import Lab
import TestSupport
import Testing

/// `demo up --object xdp_redirect_map.o`: tcpdump on the redirect target
/// (`xdpbatch3`, the peer of the DEVMAP's `xdpbatch2`) counts the frames
/// `stats` counts as REDIRECT, within 1 %, on the kernel datapath and on
/// the software datapath; with the target down, the software datapath
/// counts them as redirect errors (`ENETDOWN`), not as REDIRECT, and the
/// kernel datapath's `stats` says it cannot count them.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil && HostStackTools.missing == nil,
    Comment(
      rawValue: DatapathAccess.unavailableReason ?? HostStackTools.missing ?? BuiltXDPBatch.missing)
  ))
struct DemoRedirectTests {
  static let object = PackageLayout.sample("xdp_redirect_map")

  static func stats() throws -> [String: Any] {
    let result = try BuiltXDPBatch.run(["stats", "xdpbatch0", "--json"])
    try #require(result.status == 0, "\(result.errors)")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
  }

  static func redirected(_ stats: [String: Any]) -> UInt64 {
    let actions = stats["actions"] as? [String: Any]
    return ((actions?["redirect"] as? [String: Any])?["packets"] as? NSNumber)?.uint64Value ?? 0
  }

  static func errors(_ stats: [String: Any]) -> [String: UInt64] {
    ((stats["redirect_errors"] as? [String: Any]) ?? [:]).mapValues {
      ($0 as? NSNumber)?.uint64Value ?? 0
    }
  }

  /// Stops the demo's generator (its pid file).
  static func stopGenerator() {
    let demo = Demo()
    if let text = try? String(contentsOfFile: demo.generatorPIDPath, encoding: .utf8),
      let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    {
      kill(pid, SIGKILL)
      _ = eventually { kill(pid, 0) != 0 }
    }
  }

  /// REDIRECT counted by `stats` and frames tcpdump saw on the target
  /// over one run of the generator (2 s at 5,000 frames/s).
  static func measure() throws -> (redirect: UInt64, captured: Int) {
    stopGenerator()
    usleep(500_000)
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-target-\(UInt32.random(in: 0..<UInt32.max)).pcap").path
    defer { unlink(file) }
    let capture = Process()
    capture.executableURL = URL(fileURLWithPath: DatapathAccess.ip)
    capture.arguments = [
      "netns", "exec", "xdpbatch-demo", HostStackTools.tcpdump!, "-i", "xdpbatch3", "-n", "-U",
      "-w", file,
    ]
    capture.standardOutput = FileHandle.nullDevice
    capture.standardError = FileHandle.nullDevice
    try capture.run()
    // SIGKILL: a child of the test process starts with SIGTERM blocked.
    defer { if capture.isRunning { kill(capture.processIdentifier, SIGKILL) } }
    usleep(1_000_000)
    let before = redirected(try stats())
    // demo up again starts the generator again.
    let up = try BuiltXDPBatch.run(["demo", "up", "--object", object, "--rate", "5000"])
    try #require(up.status == 0, "\(up.errors)")
    usleep(2_000_000)
    stopGenerator()
    usleep(1_000_000)
    let after = redirected(try stats())
    kill(capture.processIdentifier, SIGKILL)
    capture.waitUntilExit()
    let read = try runProcess(URL(fileURLWithPath: HostStackTools.tcpdump!), ["-n", "-r", file])
    let captured = read.output.split(separator: "\n").count
    return (after - before, captured)
  }

  @Test func theTargetReceivesWhatStatsCountsAsRedirect() throws {
    let lock = DemoLock()
    defer { lock.release() }
    defer { _ = try? BuiltXDPBatch.run(["demo", "down"]) }
    let up = try BuiltXDPBatch.run(["demo", "up", "--object", Self.object, "--rate", "5000"])
    try #require(up.status == 0, "\(up.errors)")

    // The kernel datapath.
    var stats = try Self.stats()
    #expect(stats["datapath"] as? String == "kernel")
    #expect((stats["redirect_errors_unavailable"] as? String)?.contains("not counted") == true)
    let kernel = try Self.measure()
    #expect(kernel.redirect > 5_000, "kernel: \(kernel)")
    #expect(
      abs(Double(kernel.captured) - Double(kernel.redirect)) <= 0.01 * Double(kernel.redirect),
      "kernel: tcpdump saw \(kernel.captured) of \(kernel.redirect) REDIRECT")

    // The software datapath.
    let swapped = try BuiltXDPBatch.run(["swap", "xdpbatch0"])
    try #require(swapped.status == 0, "\(swapped.errors)")
    stats = try Self.stats()
    #expect(stats["datapath"] as? String == "software")
    let software = try Self.measure()
    #expect(software.redirect > 5_000, "software: \(software)")
    #expect(
      abs(Double(software.captured) - Double(software.redirect)) <= 0.01
        * Double(software.redirect),
      "software: tcpdump saw \(software.captured) of \(software.redirect) REDIRECT")

    // The target down: redirect errors by reason, no REDIRECT.
    let down = try runProcess(
      URL(fileURLWithPath: DatapathAccess.ip), ["link", "set", "xdpbatch2", "down"])
    try #require(down.status == 0, "\(down.errors)")
    let before = try Self.stats()
    let restarted = try BuiltXDPBatch.run(["demo", "up", "--object", Self.object, "--rate", "5000"])
    try #require(restarted.status == 0, "\(restarted.errors)")
    usleep(2_000_000)
    Self.stopGenerator()
    usleep(1_000_000)
    let after = try Self.stats()
    let failed = (Self.errors(after)["ENETDOWN"] ?? 0) - (Self.errors(before)["ENETDOWN"] ?? 0)
    #expect(
      Self.redirected(after) == Self.redirected(before), "no REDIRECT while the target is down")
    #expect(failed > 5_000, "ENETDOWN errors: \(Self.errors(after))")
    let table = try BuiltXDPBatch.run(["stats", "xdpbatch0"])
    #expect(table.output.contains("ENETDOWN"), "\(table.output)")
    #expect(table.output.contains("the target interface is down"), "\(table.output)")
  }
}
