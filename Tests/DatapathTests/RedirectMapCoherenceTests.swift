import BPF
import Datapath
import Deployment
import Foundation
import Glibc
import Inspection
import TestSupport
import Testing

/// The software datapath and the kernel's maps of the user's program: a
/// `map update` of a DEVMAP (through `xdpbatch map update`) reaches
/// `bpf_redirect_map` in the datapath's engines, and inspection on a
/// software interface shows the user's program and maps, not the
/// redirect program's.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct RedirectMapCoherenceTests {
  static let redirectMap = PackageLayout.sample("xdp_redirect_map")
  static let source = ProgramSource(objectPath: redirectMap, programName: "xdp_redirect_map_prog")
  /// xdp_redirect_map picks DEVMAP key `h_dest[5] & 1`: 1 for these frames.
  static let frame = DatapathNetwork.udp(port: 9)

  static func deployment() throws -> ProgramDeployment {
    ProgramDeployment(executable: try #require(BuiltXDPBatch.url).path)
  }

  static func run(_ arguments: [String]) throws -> ProcessResult {
    try BuiltXDPBatch.run(arguments)
  }

  @Test(arguments: [Form.perPacket, .batch])
  func mapUpdateOfADevmapReachesTheSoftwareDatapath(form: Form) throws {
    let network = try DatapathNetwork(secondPair: true)
    defer { network.tearDown() }
    let second = try #require(network.second)
    let interface = network.veth.name
    let deployment = try Self.deployment()
    try deployment.attach(
      Self.source, to: interface, mode: .native, datapath: .software, form: form)
    defer { try? deployment.detach(interface: interface) }
    func counters() -> DatapathCounters.Totals {
      deployment.status(interface: interface)?.counters ?? DatapathCounters.Totals()
    }
    let status = try #require(deployment.status(interface: interface))
    #expect(status.form == form)
    // Every map of the program is the kernel's: the DEVMAP read, the
    // per-CPU counter exchanged (docs/DESIGN.md, "Maps on the software datapath").
    #expect(status.followedMaps == ["forwarded", "tx_port"])
    #expect(status.mapSharing == ["forwarded": .exchanged, "tx_port": .read])

    // The DEVMAP is empty: the program's miss action (PASS), as in the kernel.
    try network.send(Self.frame, count: 50)
    #expect(eventually { counters().actions[.pass].packets >= 50 })
    #expect(counters().actions[.redirect].packets == 0)

    // Key 1 -> loopback, which the datapath cannot send to: REDIRECT
    // verdicts, every one a redirect error.
    func update(_ value: UInt32) throws {
      let result = try Self.run(["map", "update", interface, "tx_port", "1", String(value)])
      try #require(result.status == 0, "\(result.errors)")
    }
    try update(1)
    #expect(
      try eventually(seconds: 10) {
        try network.send(Self.frame, count: 5)
        return counters().redirectFailed.packets > 0
      }, "the datapath never followed the DEVMAP to loopback")
    // The last round's other frames may still be on their way: counted
    // once the counters hold still (else they landed in the 100 below).
    var before = settled(counters)
    try network.send(Self.frame, count: 100)
    #expect(eventually { counters().redirectFailed.packets >= before.redirectFailed.packets + 100 })
    var after = counters()
    // No frame left: none counts as REDIRECT, all as redirect errors.
    #expect(after.actions[.redirect].packets == before.actions[.redirect].packets)
    #expect(after.redirectFailed.packets == before.redirectFailed.packets + 100)
    #expect(deployment.status(interface: interface)?.redirectFailures?.unsent ?? 0 >= 100)

    // Key 1 -> the second pair: REDIRECT rises, redirect_failed stays, and
    // the frames arrive at the second pair's peer.
    try update(if_nametoindex(second.name))
    // Until the datapath has re-read the map, a round may still fail.
    #expect(
      try eventually(seconds: 10) {
        let round = counters()
        try network.send(Self.frame, count: 5)
        return eventually {
          counters().actions[.redirect].packets >= round.actions[.redirect].packets + 5
        } && counters().redirectFailed.packets == round.redirectFailed.packets
      }, "the datapath never followed the DEVMAP to \(second.name)")
    before = settled(counters)
    let peerBefore = try network.peerReceived(second.peer)
    try network.send(Self.frame, count: 100)
    #expect(
      eventually {
        counters().actions[.redirect].packets >= before.actions[.redirect].packets + 100
      })
    after = counters()
    #expect(after.actions[.redirect].packets == before.actions[.redirect].packets + 100)
    #expect(after.redirectFailed.packets == before.redirectFailed.packets)
    #expect(eventually { (try? network.peerReceived(second.peer)) ?? 0 >= peerBefore + 100 })
  }

  /// The console's `b` on a kernel without batch XDP: the interface moves
  /// to the software datapath, whose fallback takes over the kernel
  /// program's maps, so a DEVMAP filled before keeps redirecting.
  @Test func aDevmapFilledInTheKernelKeepsRedirectingAfterTheMove() throws {
    let network = try DatapathNetwork(secondPair: true)
    defer { network.tearDown() }
    let second = try #require(network.second)
    let interface = network.veth.name
    let deployment = try Self.deployment()
    try deployment.attach(
      Self.source, to: interface, mode: .native, datapath: .kernel, form: .perPacket)
    defer { try? deployment.detach(interface: interface) }
    let filled = try Self.run([
      "map", "update", interface, "tx_port", "1", String(if_nametoindex(second.name)),
    ])
    try #require(filled.status == 0, "\(filled.errors)")
    let moved = try deployment.swap(interface: interface)
    try #require(moved.isSoftware, "this kernel runs batch XDP: nothing moves")
    let status = try #require(deployment.status(interface: interface))
    #expect(status.form == .batch)
    let dump = try Self.run(["map", "dump", interface, "tx_port"])
    #expect(dump.output.contains("key 1  value \(if_nametoindex(second.name))"), "\(dump.output)")
    let peerBefore = try network.peerReceived(second.peer)
    try network.send(Self.frame, count: 100)
    #expect(
      eventually {
        (deployment.status(interface: interface)?.counters.actions[.redirect].packets ?? 0) >= 100
      })
    let counters = try #require(deployment.status(interface: interface)?.counters)
    #expect(counters.actions[.redirect].packets == 100)
    #expect(counters.redirectFailed.packets == 0)
    #expect(eventually { (try? network.peerReceived(second.peer)) ?? 0 >= peerBefore + 100 })

    // And back: the kernel program takes the maps over again.
    let back = try deployment.swap(interface: interface)
    #expect(!back.isSoftware && back.form == .perPacket)
    let kept = try Self.run(["map", "dump", interface, "tx_port"])
    #expect(kept.output.contains("key 1  value \(if_nametoindex(second.name))"), "\(kept.output)")
    // The kernel program redirects through the kept DEVMAP (whether veth
    // then delivers depends on the peer's XDP, not on xdpbatch).
    func redirected() -> UInt64 {
      let actions = (try? DatapathLifecycleTests.stats(interface))?["actions"] as? [String: Any]
      return ((actions?["redirect"] as? [String: Any])?["packets"] as? NSNumber)?.uint64Value ?? 0
    }
    let redirectedBefore = redirected()
    try network.send(Self.frame, count: 100)
    #expect(eventually { redirected() >= redirectedBefore + 100 })
  }

  @Test func inspectionOnASoftwareInterfaceShowsTheUsersProgram() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let deployment = try Self.deployment()
    try deployment.attach(
      Self.source, to: interface, mode: .native, datapath: .software, form: .perPacket)
    defer { try? deployment.detach(interface: interface) }
    let attached = try InterfaceProgram.attached(to: interface)
    #expect(attached.program.name == RedirectProgram.name)

    let maps = try Self.run(["maps", interface, "--json"])
    try #require(maps.status == 0, "\(maps.errors)")
    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(maps.output.utf8)) as? [String: Any])
    let names = ((report["maps"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
    #expect(names.contains("tx_port") && names.contains("forwarded"), "\(names)")
    #expect(!names.contains(RedirectProgram.socketsMap.name))
    #expect(!names.contains(RedirectProgram.fallbackMap.name))
    #expect(report["redirect_program_id"] as? NSNumber == NSNumber(value: attached.programID))
    #expect((report["program_id"] as? NSNumber)?.uint32Value != attached.programID)
    // What the demo's DEVMAP filling resolves the attached program to.
    #expect(
      DatapathRedirect.userProgramID(attached: attached.programID)
        == (report["program_id"] as? NSNumber)?.uint32Value)

    let dump = try Self.run(["map", "dump", interface, "tx_port", "--json"])
    #expect(dump.status == 0, "\(dump.errors)")
    #expect(dump.output.contains("\"tx_port\""))
    #expect(!dump.output.contains("datapath_copy"), "a shared map: \(dump.output)")
    let counted = try Self.run(["map", "dump", interface, "forwarded"])
    #expect(counted.status == 0, "\(counted.errors)")
    #expect(!counted.output.contains("own copy"), "a shared map: \(counted.output)")

    let prog = try Self.run(["prog", interface, "--json"])
    try #require(prog.status == 0, "\(prog.errors)")
    let details = try #require(
      try JSONSerialization.jsonObject(with: Data(prog.output.utf8)) as? [String: Any])
    #expect(details["name"] as? String == "xdp_redirect_map_prog")
    let redirect = details["redirect_program"] as? [String: Any]
    #expect(redirect?["name"] as? String == RedirectProgram.name)
    let text = try Self.run(["prog", interface])
    #expect(text.output.contains("software datapath"))
  }
}

/// `read()` once it has held still for 300 ms (at most 5 s).
private func settled(_ read: () -> DatapathCounters.Totals) -> DatapathCounters.Totals {
  var last = read()
  var still = 0
  for _ in 0..<50 where still < 3 {
    usleep(100_000)
    let now = read()
    still = now == last ? still + 1 : 0
    last = now
  }
  return last
}
