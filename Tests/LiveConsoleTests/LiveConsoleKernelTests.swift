import BPF
import Console
import Control
import ControlTestSupport
import Foundation
import Glibc
import LiveConsole
import TestSupport
import Testing

/// The console's keys and counters against the kernel, on a veth pair of
/// the test's own: attach, strategy, swap and detach go through Control
/// as the command line's do, the counters come through one pinned
/// attachment kept open between samples.
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct LiveConsoleKernelTests {
  static let dropper = PackageLayout.sample("xdp1")

  @Test(.enabled(if: FileManager.default.fileExists(atPath: dropper), "make samples"))
  func keysActOnTheKernelAndSamplesKeepOneHandle() throws {
    let network = try TestNetwork(prefix: "xbl")
    defer { network.tearDown() }
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    let stateDirectory = FileManager.default.temporaryDirectory
      .appendingPathComponent("xbl-state-\(suffix)")
    defer { try? FileManager.default.removeItem(at: stateDirectory) }
    let deployment = ProgramDeployment(state: StateDirectory(path: stateDirectory.path))
    let interface = network.veth.name
    let clock = ManualClock()
    let traffic = PinnedTraffic(deployment: deployment)
    let session = ConsoleSession(
      interface: interface, deployment: deployment, traffic: traffic, choices: [],
      clock: { [clock] in clock.now })
    /// The next second's snapshot.
    func tick() -> ConsoleSnapshot {
      clock.advance(by: 1)
      return session.snapshot()
    }

    let idle = session.snapshot()
    #expect(idle.program == nil)
    #expect(idle.interface(named: interface)?.driver == "veth")
    #expect(idle.interface(named: interface)?.program == nil)
    #expect(traffic.pinOpenings == 0, "nothing pinned yet")

    // The attach key: the same Control call as `xdpbatch attach`.
    try session.execute(.attach(interface: interface, objectPath: Self.dropper, program: nil))
    let attached = session.snapshot()
    #expect(attached.status == .info("attached xdp_prog1 (per-packet, native) to \(interface)"))
    let program = try #require(attached.program)
    #expect(program.programName == "xdp_prog1")
    #expect(program.mode == .perPacket)
    #expect(program.attachMode == .native)
    #expect(program.instructionsBefore > 0)
    #expect((program.instructionsAfter ?? 0) > program.instructionsBefore)
    let row = try #require(attached.interface(named: interface))
    #expect(row.program?.attachMode == "native")
    #expect(row.program?.id == deployment.state.record(interface: interface)?.programID)

    // Frames from the peer are counted through the kept handle.
    let sent: UInt64 = 100
    let generator = TrafficGenerator.start(
      .init(
        frames: [TestNetwork.frame], interface: network.veth.peer, namespace: network.namespace,
        framesPerRun: UInt32(sent), limit: sent))
    #expect(generator.wait() == nil)
    var counted = tick()
    let deadline = Date().addingTimeInterval(3)
    while counted.traffic.totals[.drop].packets < sent, Date() < deadline {
      usleep(20_000)
      counted = tick()
    }
    #expect(counted.traffic.totals[.drop].packets >= sent)
    #expect(counted.traffic.totals[.pass].packets == 0)
    // The maps pane: xdp1's per-protocol counts, typed from the object
    // (UDP is protocol 17); the per-CPU pane adds up to the totals.
    let rxcnt = try #require(counted.maps.first { $0.name == "rxcnt" })
    let udp = try #require(rxcnt.entries.first { $0.key == "17" })
    #expect((Int(udp.value) ?? 0) >= Int(sent))
    #expect(counted.maps.contains { $0.name == "xdp_stats_map" })
    #expect(
      counted.perCPU.reduce(0) { $0 + $1[.drop].packets } >= counted.traffic.totals[.drop].packets)
    _ = tick()
    _ = tick()
    #expect(traffic.pinOpenings == 1, "samples reuse the attachment opened once")

    // The strategy key changes the record; the program stays, so does the handle.
    let before = program.strategy
    try session.execute(.cycleStrategy(interface: interface))
    let cycled = session.snapshot()
    #expect(cycled.program?.strategy != before)
    #expect(
      cycled.program?.strategy.rawValue
        == deployment.state.record(interface: interface)?.strategy.rawValue)
    #expect(traffic.pinOpenings == 1)

    // The swap key refuses, as `xdpbatch swap` does, on a stock kernel.
    if !(try BatchKernelSupport.probe()).isBatchCapable {
      #expect {
        try session.execute(.swapMode(interface: interface))
      } throws: { "\($0)".hasPrefix("batch not available") }
      #expect(session.snapshot().program?.mode == .perPacket)
    }

    // The detach key: pins and record gone, the pane empty.
    try session.execute(.detach(interface: interface))
    let detached = session.snapshot()
    #expect(detached.status == .info("detached xdpbatch's program from \(interface)"))
    #expect(detached.program == nil)
    #expect(detached.interface(named: interface)?.program == nil)
    #expect(deployment.state.record(interface: interface) == nil)
    #expect(tick().program == nil)

    // Attached again behind the session's back (another xdpbatch): the
    // next sample opens the new pins once.
    try deployment.attach(
      ProgramSource(objectPath: Self.dropper, programName: "xdp_prog1"), to: interface,
      mode: .native)
    let again = tick()
    #expect(again.program?.programName == "xdp_prog1", "\(again.status.map(\.text) ?? "")")
    _ = tick()
    #expect(traffic.pinOpenings == 2)
  }
}
