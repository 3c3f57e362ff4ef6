import BPF
import Console
import Deployment
import Foundation
import Glibc
import Kernel
import KernelTestSupport
import Lab
import LiveConsole
import TestSupport
import Testing

/// The console's keys and counters against the kernel, on a veth pair of
/// the test's own: attach, strategy, swap and detach go through Control
/// and the software datapath as the command line's do, the counters come
/// through one pinned attachment kept open between samples.
///
/// The records live in the standard state directory (`/run/xdpbatch`),
/// under the pair's random name: the software datapath's process keeps its
/// control socket there.
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct LiveConsoleKernelTests {
  static let dropper = PackageLayout.sample("xdp1")

  @Test(.enabled(if: FileManager.default.fileExists(atPath: dropper), "make samples"))
  func keysActOnTheKernelAndSamplesKeepOneHandle() throws {
    let network = try TestNetwork(prefix: "xbl")
    defer { network.tearDown() }
    let deployment = ProgramDeployment()
    let interface = network.veth.name
    let executable = BuiltXDPBatch.url?.path ?? Processes.currentExecutable
    // Whatever the test left (a failed expectation midway): process, pins, record.
    defer {
      var datapaths = deployment
      datapaths.executable = executable
      try? datapaths.detach(interface: interface)
    }
    let clock = ManualClock()
    let traffic = PinnedTraffic(deployment: deployment)
    let session = ConsoleSession(
      interface: interface, deployment: deployment, traffic: traffic, choices: [],
      clock: { [clock] in clock.now }, datapathExecutable: executable)
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

    // The swap key, on a stock kernel, moves the interface to the software
    // datapath in batch form and back, as `xdpbatch swap` does.
    if !(try BatchKernelSupport.probe()).isBatchCapable, Self.softwareDatapathReason == nil {
      try swapThroughTheSoftwareDatapath(
        session, interface: interface, network: network, counted: counted.traffic.totals, tick)
    }

    let openings = traffic.pinOpenings
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
    #expect(traffic.pinOpenings == openings + 1)
  }

  /// Why the software datapath cannot run in this test, `nil` when it can.
  static let softwareDatapathReason: String? = {
    if BuiltXDPBatch.url == nil { return BuiltXDPBatch.missing }
    if access("/dev/net/tun", F_OK) != 0 { return "no /dev/net/tun for the PASS device" }
    let probe = MapDefinition(name: "probe", type: .xskmap, keySize: 4, valueSize: 4, maxEntries: 1)
    return (try? KernelMap.create(probe)) == nil ? "AF_XDP maps are not usable here" : nil
  }()

  /// `b` on a kernel attachment (after the console's `y`): software batch,
  /// counted on through the datapath's records, timed per form; `b` again:
  /// the kernel per packet, the datapath process gone.
  func swapThroughTheSoftwareDatapath(
    _ session: ConsoleSession, interface: String, network: TestNetwork, counted: ActionCounts,
    _ tick: () -> ConsoleSnapshot
  ) throws {
    let asked = try #require(session.snapshot().program?.datapathMove)
    #expect(asked == "move \(interface) to the software datapath (AF_XDP) in batch form")
    try session.execute(.swapMode(interface: interface))
    let moved = tick()
    #expect(
      moved.status
        == .info("\(interface) moved to the software datapath (AF_XDP): xdp_prog1 runs batch"))
    let program = try #require(moved.program)
    #expect(program.datapath == "software")
    #expect(program.mode == .batch)
    #expect(program.zeroCopy == false, "veth offers no zero-copy")
    let process = try #require(ProgramDeployment().state.record(interface: interface)?.process)
    #expect(process.isAlive)

    // Frames now go through the software datapath: the totals go on rising.
    let sent: UInt64 = 100
    let generator = TrafficGenerator.start(
      .init(
        frames: [TestNetwork.frame], interface: network.veth.peer, namespace: network.namespace,
        framesPerRun: UInt32(sent), limit: sent))
    #expect(generator.wait() == nil)
    var snapshot = tick()
    let deadline = Date().addingTimeInterval(5)
    while snapshot.traffic.totals[.drop].packets < counted[.drop].packets + sent, Date() < deadline
    {
      usleep(50_000)
      snapshot = tick()
    }
    #expect(snapshot.traffic.totals[.drop].packets >= counted[.drop].packets + sent)
    // The program's time and the whole datapath's, for the batch form that ran.
    let timed = try #require(snapshot.program)
    #expect((timed.nanosecondsPerPacket[.batch] ?? 0) > 0)
    #expect((timed.datapathNanosecondsPerPacket[.batch] ?? 0) > 0)
    #expect(
      timed.datapathMove == "move \(interface) back to the kernel datapath in per-packet form")

    try session.execute(.swapMode(interface: interface))
    let back = tick()
    #expect(back.status == .info("\(interface) moved to the kernel: xdp_prog1 runs per-packet"))
    #expect(back.program?.datapath == "kernel")
    #expect(back.program?.mode == .perPacket)
    let stopped = Date().addingTimeInterval(5)
    while process.isAlive, Date() < stopped { usleep(20_000) }
    #expect(!process.isAlive)
  }
}
