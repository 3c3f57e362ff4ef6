import BPF
import Deployment
import Engine
import Foundation
import Glibc
import TestSupport
import Testing

@testable import Datapath

/// A redirect to an XSKMAP socket the user registered: the software
/// datapath cannot follow it (its own sockets own the queues), so it
/// counts it as redirect_failed with the reason `xskmap`; without a socket
/// in the key the program's miss action runs, as in the kernel.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct SocketRedirectTests {
  static let sockets = MapDefinition(
    name: "user_xsks", type: .xskmap, keySize: 4, valueSize: 4, maxEntries: 4)

  /// `return bpf_redirect_map(&user_xsks, 0, XDP_PASS)`.
  static func object() throws -> String {
    var instructions = Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
    instructions += [
      .move(.r2, immediate: 0), .move(.r3, immediate: Int32(XDPAction.pass.rawValue)),
      .call(helper: HelperFunction.redirectMap.rawValue), .exit,
    ]
    let program = Program(name: "to_user_xsk", sectionName: "xdp", instructions: instructions)
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-xsk-\(UInt32.random(in: 0..<UInt32.max)).o").path
    try Data(try ObjectWriter(program: program, maps: [sockets]).bytes()).write(
      to: URL(fileURLWithPath: path))
    return path
  }

  @Test func aRedirectToAUsersSocketCountsAsFailedWithItsReason() throws {
    let network = try DatapathNetwork(secondPair: true)
    defer { network.tearDown() }
    let second = try #require(network.second)
    let interface = network.veth.name
    let path = try Self.object()
    defer { unlink(path) }
    let deployment = ProgramDeployment(executable: try #require(BuiltXDPBatch.url).path)
    try deployment.attach(
      ProgramSource(objectPath: path, programName: "to_user_xsk"), to: interface, mode: .native,
      datapath: .software, form: .perPacket)
    defer { try? deployment.detach(interface: interface) }
    func status() -> DatapathStatus? { deployment.status(interface: interface) }
    #expect(status()?.followedMaps == ["user_xsks"])
    #expect(status()?.followProblem == nil)

    // No socket in key 0: the miss action, PASS.
    try network.send(DatapathNetwork.udp(port: 9), count: 20)
    #expect(eventually { status()?.counters.actions[.pass].packets ?? 0 >= 20 })
    #expect(status()?.counters.actions[.redirect].packets == 0)

    // The user registers an AF_XDP socket (bound to the second pair's
    // queue 0) in key 0, as `map update` would.
    let machine = try Machine()
    let socket = try QueueSocket(interface: second.name, queue: 0, space: machine.addressSpace)
    defer { socket.close() }
    try DeployedProgram.on(interface).typedMap(named: "user_xsks").update(
      key: "0", value: String(socket.descriptor))
    #expect(
      try eventually(seconds: 10) {
        try network.send(DatapathNetwork.udp(port: 9), count: 5)
        return (status()?.redirectFailures?.socket ?? 0) > 0
      }, "the datapath never saw the user's socket in the XSKMAP")
    let before = try #require(status())
    try network.send(DatapathNetwork.udp(port: 9), count: 100)
    #expect(
      eventually {
        status()?.counters.redirectFailed.packets ?? 0 >= before.counters.redirectFailed.packets
          + 100
      })
    let after = try #require(status())
    // REDIRECT counts only frames that left; these are redirect errors.
    #expect(after.counters.actions[.redirect].packets == before.counters.actions[.redirect].packets)
    #expect(
      after.redirectErrors?.packets["xskmap"]
        == (before.redirectErrors?.packets["xskmap"] ?? 0) + 100)
    #expect(after.counters.redirectFailed.packets == before.counters.redirectFailed.packets + 100)
    #expect(after.redirectFailures?.socket == (before.redirectFailures?.socket ?? 0) + 100)
    #expect(after.counters.actions[.pass].packets == before.counters.actions[.pass].packets)

    // stats --json shows the reason.
    let stats = try BuiltXDPBatch.run(["stats", interface, "--json"])
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any])
    let failures = json["redirect_failures"] as? [String: Any]
    #expect((failures?["xskmap"] as? NSNumber)?.uint64Value ?? 0 >= 100)
  }
}
