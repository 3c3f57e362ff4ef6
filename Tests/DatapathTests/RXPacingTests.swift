import BPF
import Datapath
import Deployment
import Foundation
import Frames
import Glibc
import KernelTestSupport
import Lab
import TestSupport
import Testing

/// The software datapath paced as a loaded NIC's driver takes its frames
/// (``RXPacing``: the bench's like-with-like batch sizes): RX batches of
/// the stated size from traffic that comes a frame at a time, no frame
/// lost, none held past the pacing's delay.
@Suite(
  .serialized,
  .enabled(if: DatapathAccess.available, Comment(rawValue: DatapathAccess.unavailableReason ?? "")))
struct RXPacingTests {
  static let drop = PackageLayout.sample("xdp1")

  func start(_ network: DatapathNetwork, pacing: RXPacing) throws -> SoftwareDatapath {
    var configuration = try DatapathConfiguration(
      interface: network.veth.name,
      source: ProgramSource(objectPath: Self.drop, programName: "xdp_prog1"))
    configuration.rxPacing = pacing
    return try SoftwareDatapath.start(configuration)
  }

  /// Frames run and the RX batches they came in, both forms (the window
  /// after the start alternates them).
  func taken(_ datapath: SoftwareDatapath) -> (frames: UInt64, batches: UInt64) {
    let forms = datapath.status().forms
    return (
      forms.perPacket.packets + forms.batch.packets, forms.perPacket.batches + forms.batch.batches
    )
  }

  /// 64 frames sent together (unpaced, the queue takes them in one or
  /// two RX batches as the veth delivers them) come in batches of exactly
  /// 8, plus at most one batch for each of the peer's own frames (IPv6
  /// neighbour discovery, MLD), which may come at any time. Every frame is
  /// dropped and counted.
  @Test func framesSentTogetherAreTakenEightABatch() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let datapath = try start(network, pacing: RXPacing(frames: 8, maximumDelay: 200_000_000))
    defer {
      datapath.stop()
      datapath.wait()
    }
    try network.send(TestNetwork.frame, count: 64, framesPerRun: 1)
    #expect(eventually { taken(datapath).frames >= 64 })
    usleep(300_000)
    let (frames, batches) = taken(datapath)
    let others = frames - 64
    // At most 8 a batch: at least 8 batches (unpaced, a batch takes up
    // to 64); 8 a batch: no more than the peer's frames add.
    #expect(batches >= 8, "\(frames) frames in \(batches) RX batches")
    #expect(batches <= (frames + 7) / 8 + others, "\(frames) frames in \(batches) RX batches")
    #expect(datapath.status().counters.actions[.drop].packets == frames)
  }

  /// A frame alone on the ring, with 7 more that never come, is taken
  /// once it waited the delay (1 ms), not held: three frames sent one at
  /// a time each leave the ring (and are dropped) on their own.
  @Test func aFrameWaitsNoLongerThanTheDelay() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let datapath = try start(network, pacing: RXPacing(frames: 8, maximumDelay: 1_000_000))
    defer {
      datapath.stop()
      datapath.wait()
    }
    for sent in 1...3 {
      let before = taken(datapath)
      try network.send(TestNetwork.frame, count: 1, framesPerRun: 1)
      #expect(eventually(seconds: 2) { taken(datapath).frames > before.frames }, "frame \(sent)")
      #expect(taken(datapath).batches > before.batches, "frame \(sent)")
    }
    let (frames, _) = taken(datapath)
    #expect(frames >= 3)
    #expect(datapath.status().counters.actions[.drop].packets == frames)
  }
}
