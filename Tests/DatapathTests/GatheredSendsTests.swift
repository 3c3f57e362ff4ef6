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
    #expect(status.counters.actions[.pass].packets == 20)
    #expect(status.counters.actions.totalPackets == 20)
    let slowPath = try #require(status.slowPath)
    #expect(slowPath.passFrames == 20 && slowPath.passCalls == 1, "\(slowPath)")
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
    #expect(DatapathCounters.read(interface: network.veth.name)?.actions[.pass].packets == 30)
  }
}
