import BPF
import Datapath
import Deployment
import Engine
import Foundation
import Frames
import Glibc
import Inspection
import Lab
import TestSupport
import Testing

/// The software datapath on veth pairs the tests make: counters against the
/// engine's prediction, TX, PASS and REDIRECT delivered, swaps under traffic.
@Suite(
  .serialized,
  .enabled(if: DatapathAccess.available, Comment(rawValue: DatapathAccess.unavailableReason ?? "")))
struct SoftwareDatapathTests {
  static let classify = PackageLayout.sample("xdp_classify")

  /// What the engine predicts xdp_classify does with each frame, run offline.
  static func predicted(_ frames: [(FrameTemplate, UInt64)]) throws -> ActionCounts {
    let object = try BPFObject(contentsOf: classify)
    let program = try object.program(named: "xdp_classify_prog")
    let machine = try Machine(maps: object.maps)
    let runner = try PacketRunner(
      machine: machine, program: try machine.prepare(program), form: .perPacket)
    var counts = ActionCounts()
    for (frame, count) in frames {
      let outcome = try #require(try runner.run([frame.bytes]).outcomes.first)
      counts[outcome.action].packets += count
      counts[outcome.action].bytes += count * UInt64(outcome.output.count)
    }
    return counts
  }

  func start(_ network: DatapathNetwork, form: Form) throws -> SoftwareDatapath {
    try SoftwareDatapath.start(
      DatapathConfiguration(
        interface: network.veth.name,
        source: ProgramSource(objectPath: Self.classify, programName: "xdp_classify_prog"),
        form: form))
  }

  @Test(arguments: [Form.perPacket, .batch])
  func countersMatchTheEnginesPrediction(form: Form) throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let datapath = try start(network, form: form)
    defer {
      datapath.stop()
      datapath.wait()
    }
    #expect(datapath.status().form == form)
    #expect(!datapath.status().zeroCopy, "veth offers no zero-copy")
    let frames: [(FrameTemplate, UInt64)] = [
      (DatapathNetwork.udp(port: 9), 300), (DatapathNetwork.udp(port: 7), 200),
      (DatapathNetwork.experimental, 100), (DatapathNetwork.ipv6TCP, 50),
    ]
    let expected = try Self.predicted(frames)
    #expect(expected[.drop].packets == 300 && expected[.tx].packets == 200)
    #expect(expected[.pass].packets == 100 && expected[.redirect].packets == 50)
    let peerBefore = try network.peerReceived(network.veth.peer)
    let tap = datapath.status().passDevice
    // PASS frames reach the interface's own receive path (a packet socket
    // bound to it for their EtherType sees them), by the TAP's egress.
    let listener = try EtherTypeListener(interface: network.veth.name, etherType: 0x88b5)
    for (frame, count) in frames { try network.send(frame, count: count) }
    let total = frames.reduce(0) { $0 + $1.1 }
    // ifindex 1 is loopback: the redirects fail visibly, as in the kernel,
    // and count as redirect errors, not as REDIRECT (no frame left).
    var left = expected
    left[.redirect] = ActionCount(packets: 0, bytes: 0)
    func counted(_ status: DatapathStatus) -> UInt64 {
      status.counters.actions.totalPackets + (status.redirectErrors?.total ?? 0)
    }
    let settled = eventually { counted(datapath.status()) >= total }
    datapath.flush()
    let status = datapath.status()
    #expect(settled, "datapath counted \(counted(status)) of \(total)")
    #expect(status.counters.actions == left)
    // The window after the start runs the batches alternately in both
    // forms (ComparisonWindow): every frame once, the verdicts the same.
    #expect(status.forms.perPacket.packets + status.forms.batch.packets == total)
    let comparison = try #require(status.comparison)
    #expect(comparison.perPacket.packets > 0 && comparison.batch.packets > 0, "\(comparison)")
    #expect(comparison.perPacket.packets + comparison.batch.packets == total)
    // The pinned records say the same.
    #expect(DatapathCounters.read(interface: network.veth.name)?.actions == left)
    #expect(status.counters.redirectFailed.packets == 50)
    #expect(status.redirectErrors?.total == 50, "\(String(describing: status.redirectErrors))")
    #expect(status.socket.fillRingEmpty == 0 && status.socket.rxRingFull == 0)
    // TX frames arrive at the peer, PASS frames on the TAP device.
    #expect(eventually { (try? network.peerReceived(network.veth.peer)) ?? 0 >= peerBefore + 200 })
    #expect(eventually { listener.received() >= 100 })
    #expect(listener.received() == 100)
    #expect(DatapathNetwork.statistic(tap, "tx_packets") == 0, "the TAP device sent frames")
    // PASS and REDIRECT leave a batch at a time: fewer system calls than
    // frames (the generator sends runs of 64; a write or send per frame
    // made one call each).
    let slowPath = try #require(status.slowPath)
    #expect(slowPath.passFrames == 100 && slowPath.redirectFrames == 0, "\(slowPath)")
    #expect(slowPath.passCalls > 0 && slowPath.passCalls < 100, "\(slowPath)")
  }

  @Test func redirectReachesASecondInterface() throws {
    let network = try DatapathNetwork(secondPair: true)
    defer { network.tearDown() }
    let second = try #require(network.second)
    let target = if_nametoindex(second.name)
    try #require(target != 0)
    // r1 = target; r2 = 0; call bpf_redirect; exit
    let program = Program(
      name: "redirect_to", sectionName: "xdp",
      instructions: [
        .move(.r1, immediate: Int32(target)), .move(.r2, immediate: 0),
        .call(helper: HelperFunction.redirect.rawValue), .exit,
      ])
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-redirect-\(UInt32.random(in: 0..<UInt32.max)).o").path
    try Data(try ObjectWriter(program: program, maps: []).bytes()).write(
      to: URL(fileURLWithPath: path))
    defer { unlink(path) }
    let datapath = try SoftwareDatapath.start(
      DatapathConfiguration(
        interface: network.veth.name,
        source: ProgramSource(objectPath: path, programName: "redirect_to"), form: .batch))
    defer {
      datapath.stop()
      datapath.wait()
    }
    let before = try network.peerReceived(second.peer)
    try network.send(DatapathNetwork.udp(port: 9), count: 100)
    #expect(eventually { datapath.status().counters.actions[.redirect].packets >= 100 })
    #expect(datapath.status().counters.redirectFailed.packets == 0)
    #expect(eventually { (try? network.peerReceived(second.peer)) ?? 0 >= before + 100 })
  }

  @Test func swapsUnderTrafficLoseAndDoubleCountNothing() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let datapath = try start(network, form: .perPacket)
    defer {
      datapath.stop()
      datapath.wait()
    }
    let received = DatapathNetwork.statistic(network.veth.name, "rx_packets")
    let generator = TrafficGenerator.start(
      .init(
        frames: [DatapathNetwork.udp(port: 9)], interface: network.veth.peer,
        namespace: network.namespace, fullSpeed: true))
    var swaps = 0
    for _ in 0..<100 {
      usleep(10_000)
      try datapath.swap()
      swaps += 1
    }
    generator.stop()
    #expect(swaps == 100)
    #expect(datapath.form == .perPacket, "100 toggles end where they started")
    // Every frame veth's XDP saw went to a socket: counted once, or dropped
    // by the socket (its own counters say so).
    func accounted() -> (UInt64, UInt64) {
      let status = datapath.status()
      let socket = status.socket
      return (
        DatapathNetwork.statistic(network.veth.name, "rx_packets") - received,
        status.counters.actions.totalPackets + socket.rxDropped + socket.rxRingFull
          + socket.fillRingEmpty
      )
    }
    let settled = eventually { accounted().0 == accounted().1 }
    let (seen, counted) = accounted()
    #expect(settled, "veth saw \(seen) frames, the datapath accounts for \(counted)")
    #expect(seen > 0)
    let status = datapath.status()
    #expect(status.forms.perPacket.packets > 0 && status.forms.batch.packets > 0)
    #expect(
      status.forms.perPacket.packets + status.forms.batch.packets
        == status.counters.actions.totalPackets)
    #expect(status.counters.actions[.drop].packets == status.counters.actions.totalPackets)
  }
}
