import Datapath
import Foundation
import Glibc
import Lab
import TestSupport
import Testing

/// `demo up --object xdp_redirect_map.o`: tcpdump on the redirect target
/// (`xdpbatch3`, the peer of the DEVMAP's `xdpbatch2`) counts the frames
/// `stats` counts as REDIRECT, within 1 %, on the kernel datapath and on
/// the software datapath. With the target down, both datapaths show the
/// frames as redirect errors (`ENETDOWN`, from the kernel's
/// `xdp:xdp_redirect_err` on the kernel datapath, where REDIRECT counts
/// the verdicts; from the datapath's `send` on the software datapath,
/// where REDIRECT counts only frames that left). With the target removed,
/// the kernel takes its entry out of the DEVMAP and `bpf_redirect_map`
/// returns the program's default action (XDP_PASS): no redirect, no
/// redirect error, on either datapath.
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

  static func redirected(_ stats: [String: Any]) -> UInt64 { packets(stats, "redirect") }

  static func packets(_ stats: [String: Any], _ action: String) -> UInt64 {
    let actions = stats["actions"] as? [String: Any]
    return ((actions?[action] as? [String: Any])?["packets"] as? NSNumber)?.uint64Value ?? 0
  }

  /// `stats` before and after one run of the generator (2 s at 5,000
  /// frames/s), and the table after.
  static func generate() throws -> (before: [String: Any], after: [String: Any], table: String) {
    stopGenerator()
    usleep(500_000)
    let before = try stats()
    let up = try BuiltXDPBatch.run(["demo", "up", "--object", object, "--rate", "5000"])
    try #require(up.status == 0, "\(up.errors)")
    usleep(2_000_000)
    stopGenerator()
    usleep(1_000_000)
    let after = try stats()
    return (before, after, try BuiltXDPBatch.run(["stats", "xdpbatch0"]).output)
  }

  /// The increase of `reason`'s redirect errors from `before` to `after`.
  static func increase(_ reason: String, _ before: [String: Any], _ after: [String: Any])
    -> UInt64
  {
    (errors(after)[reason] ?? 0) - (errors(before)[reason] ?? 0)
  }

  static func ip(_ arguments: [String]) throws {
    let result = try runProcess(URL(fileURLWithPath: DatapathAccess.ip), arguments)
    try #require(result.status == 0, "ip \(arguments): \(result.errors)")
  }

  /// With the target down: the frames the program redirects are redirect
  /// errors `ENETDOWN`; REDIRECT counts none of them where it counts
  /// frames that left (`verdicts: false`), all of them where it counts
  /// verdicts.
  static func expectTargetDown(_ datapath: String, verdicts: Bool) throws {
    try ip(["link", "set", "xdpbatch2", "down"])
    defer { try? ip(["link", "set", "xdpbatch2", "up"]) }
    let run = try generate()
    #expect(run.after["datapath"] as? String == datapath)
    let failed = increase("ENETDOWN", run.before, run.after)
    let redirect = redirected(run.after) - redirected(run.before)
    #expect(failed > 5_000, "\(datapath): ENETDOWN errors \(errors(run.after))")
    if verdicts {
      #expect(
        abs(Double(failed) - Double(redirect)) <= 0.01 * Double(redirect),
        "\(datapath): \(failed) ENETDOWN of \(redirect) REDIRECT verdicts")
    } else {
      #expect(redirect == 0, "\(datapath): no REDIRECT while the target is down")
    }
    #expect(run.table.contains("ENETDOWN"), "\(run.table)")
    #expect(run.table.contains("the target interface is down"), "\(run.table)")
  }

  /// With the target removed (its DEVMAP entry gone with it): the
  /// program's default action, XDP_PASS, for every frame; no REDIRECT and
  /// no redirect error. (`demo up`, which starts the generator, makes the
  /// target again and fills the DEVMAP: it is removed after, and the
  /// counters read while the generator runs.)
  static func expectTargetRemoved(_ datapath: String) throws {
    stopGenerator()
    usleep(500_000)
    let up = try BuiltXDPBatch.run(["demo", "up", "--object", object, "--rate", "5000"])
    try #require(up.status == 0, "\(up.errors)")
    try ip(["link", "del", "xdpbatch2"])
    usleep(500_000)
    let before = try stats()
    usleep(2_000_000)
    let after = try stats()
    stopGenerator()
    #expect(after["datapath"] as? String == datapath)
    let passed = packets(after, "pass") - packets(before, "pass")
    let failed = errors(after).values.reduce(0, +) - errors(before).values.reduce(0, +)
    #expect(passed > 5_000, "\(datapath): PASS \(passed)")
    #expect(redirected(after) == redirected(before), "\(datapath): no REDIRECT")
    #expect(failed == 0, "\(datapath): redirect errors \(errors(after))")
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
    let messages = Pipe()
    capture.standardError = messages
    try capture.run()
    // SIGKILL: a child of the test process starts with SIGTERM blocked.
    defer { if capture.isRunning { kill(capture.processIdentifier, SIGKILL) } }
    // The traffic starts only once tcpdump captures: it says "listening
    // on" after its socket is bound (a fixed pause once let a loaded
    // machine start the generator before it, and tcpdump saw 0 frames).
    try #require(
      Self.waitForListening(messages.fileHandleForReading, seconds: 30),
      "tcpdump on xdpbatch3 did not start capturing within 30 s")
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
    try #require(read.status == 0, "tcpdump -r \(file): \(read.errors)")
    let captured = read.output.split(separator: "\n").count
    return (after - before, captured)
  }

  /// Reads tcpdump's standard error until it says it is capturing
  /// ("listening on IFACE, link-type ..."); false when it exits first or
  /// `seconds` pass.
  static func waitForListening(_ handle: FileHandle, seconds: Double) -> Bool {
    let descriptor = handle.fileDescriptor
    let deadline = Date().addingTimeInterval(seconds)
    var text = ""
    var buffer = [UInt8](repeating: 0, count: 512)
    while Date() < deadline {
      var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
      guard poll(&ready, 1, 100) >= 0 else { return false }
      guard ready.revents != 0 else { continue }
      let count = read(descriptor, &buffer, buffer.count)
      guard count > 0 else { return false }
      text += String(decoding: buffer[0..<count], as: UTF8.self)
      if text.contains("listening on") { return true }
    }
    return false
  }

  @Test func theTargetReceivesWhatStatsCountsAsRedirect() throws {
    let lock = DemoLock()
    defer { lock.release() }
    defer { _ = try? BuiltXDPBatch.run(["demo", "down"]) }
    let up = try BuiltXDPBatch.run(["demo", "up", "--object", Self.object, "--rate", "5000"])
    try #require(up.status == 0, "\(up.errors)")

    // The kernel datapath: its failed redirects counted from the kernel's
    // tracepoints, none while the target receives.
    var stats = try Self.stats()
    #expect(stats["datapath"] as? String == "kernel")
    #expect(stats["redirect_errors_unavailable"] == nil, "\(stats)")
    #expect(stats["redirect_errors"] != nil, "\(stats)")
    let kernel = try Self.measure()
    let afterKernel = try Self.stats()
    #expect(kernel.redirect > 5_000, "kernel: \(kernel)")
    #expect(
      abs(Double(kernel.captured) - Double(kernel.redirect)) <= 0.01 * Double(kernel.redirect),
      "kernel: tcpdump saw \(kernel.captured) of \(kernel.redirect) REDIRECT; \(afterKernel)")
    #expect(Self.errors(afterKernel).values.reduce(0, +) == 0)
    try Self.expectTargetDown("kernel", verdicts: true)

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
    try Self.expectTargetDown("software", verdicts: false)

    // The target removed, in both datapaths.
    try Self.expectTargetRemoved("software")
    let back = try BuiltXDPBatch.run(["swap", "xdpbatch0"])
    try #require(back.status == 0, "\(back.errors)")
    try Self.expectTargetRemoved("kernel")
  }
}
