import BPF
import Datapath
import Deployment
import Foundation
import Frames
import Glibc
import Inspection
import TestSupport
import Testing

/// PASS and REDIRECT frames gathered across RX batches and sent together
/// (the queue's `GatheredSends`): one send for frames of many batches, each
/// frame sent and counted once, none lost when the datapath stops.
@Suite(
  .serialized,
  .enabled(if: DatapathAccess.available, Comment(rawValue: DatapathAccess.unavailableReason ?? "")))
struct GatheredSendsTests {
  func start(_ network: DatapathNetwork, form: Form, latency: UInt64) throws -> SoftwareDatapath {
    var configuration = try DatapathConfiguration(
      interface: network.veth.name,
      source: ProgramSource(
        objectPath: SoftwareDatapathTests.classify, programName: "xdp_classify_prog"),
      form: form)
    configuration.sendLatency = latency
    return try SoftwareDatapath.start(configuration)
  }

  /// Frames the datapath ran, in either form.
  func taken(_ datapath: SoftwareDatapath) -> UInt64 {
    let forms = datapath.status().forms
    return forms.perPacket.packets + forms.batch.packets
  }

  /// 20 PASS frames 50 µs apart (the generator's runs of one frame), each
  /// taken in an RX batch of its own or nearly: within a 3 s latency they
  /// leave in one `sendmmsg` (a send per RX batch made one call per frame
  /// or so), every one reaches the interface's stack, and PASS counts 20.
  @Test(arguments: [Form.perPacket, .batch])
  func framesOfManyBatchesLeaveInOneSend(form: Form) throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let datapath = try start(network, form: form, latency: 3_000_000_000)
    defer {
      datapath.stop()
      datapath.wait()
    }
    let listener = try EtherTypeListener(interface: network.veth.name, etherType: 0x88b5)
    try network.send(DatapathNetwork.experimental, count: 20, framesPerRun: 1)
    // Taken off the RX ring (timed per batch, in either form: the window
    // after the start alternates them) but not sent or counted yet.
    #expect(eventually { taken(datapath) >= 20 })
    #expect(datapath.status().counters.actions[.pass].packets == 0)
    #expect(listener.received() == 0)
    #expect(eventually(seconds: 10) { listener.received() >= 20 })
    #expect(listener.received() == 20)
    let status = datapath.status()
    // The peer's own frames (IPv6 neighbour discovery, MLD) are PASS
    // too, and may come at any time: each is one more PASS, and at most
    // one more send.
    let passed = status.counters.actions[.pass].packets
    try #require(passed >= 20, "PASS counted \(passed)")
    let slowPath = try #require(status.slowPath)
    // Every PASS frame counted was sent, once; the generator's 20 in one
    // call (a send per RX batch made one call per frame or so).
    #expect(slowPath.passFrames == passed, "\(slowPath)")
    #expect(slowPath.passCalls >= 1 && slowPath.passCalls <= 1 + (passed - 20), "\(slowPath)")
  }

  /// Frames gathered with a latency far beyond the test go when the
  /// datapath stops: delivered and counted in the pinned records.
  @Test func gatheredFramesLeaveWhenTheDatapathStops() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let datapath = try start(network, form: .batch, latency: 600_000_000_000)
    let listener = try EtherTypeListener(interface: network.veth.name, etherType: 0x88b5)
    try network.send(DatapathNetwork.experimental, count: 30, framesPerRun: 1)
    #expect(eventually { taken(datapath) >= 30 })
    usleep(100_000)
    #expect(listener.received() == 0)
    #expect(datapath.status().counters.actions[.pass].packets == 0)
    datapath.stop()
    datapath.wait()
    #expect(eventually { listener.received() >= 30 })
    #expect(listener.received() == 30)
    // At least the generator's 30 (the peer's own frames are PASS too).
    let counters = DatapathCounters.read(interface: network.veth.name)
    #expect((counters?.actions[.pass].packets ?? 0) >= 30)
  }
}
