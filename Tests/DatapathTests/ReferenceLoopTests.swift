import BPF
import Datapath
import Deployment
import Foundation
import Glibc
import Lab
import TestSupport
import Testing

/// The bench's like-with-like references read the frames as the programs
/// do: `read-headers` counts each frame under the protocol xdp1 counts it
/// under, `mix-sends` decides each as xdp_classify does and sends its
/// PASS frames as the datapath does.
@Suite(
  .serialized,
  .enabled(if: DatapathAccess.available, Comment(rawValue: DatapathAccess.unavailableReason ?? "")))
struct ReferenceLoopTests {
  /// Frames sent per run (one sending thread: frame n is variant(of: n)).
  static let frames: UInt64 = 64 * 10

  /// How often each variant of the mix comes in the first ``frames``.
  static var occurrences: [UInt64] {
    var counts = [UInt64](repeating: 0, count: InterleavedMix.variants)
    for n in 0..<UInt32(frames) { counts[InterleavedMix.variant(of: n)] += 1 }
    return counts
  }

  func startLoop(_ network: DatapathNetwork, _ work: BareSocketLoop.Work) throws -> BareSocketLoop {
    let fallback = try ProgramSource(
      objectPath: PackageLayout.sample("xdp1"), programName: "xdp_prog1"
    ).instrumentedSpec()
    return try BareSocketLoop.start(interface: network.veth.name, fallback: fallback, work: work)
  }

  /// Variants 0-5 are IPv4 UDP (17), 6 IPv6 with next header TCP (6), 7
  /// an IPv4 frame cut inside its IP header (counted under 0, as xdp1
  /// does). The peer's own frames (IPv6 neighbour discovery, 58, and MLD
  /// behind a hop-by-hop header, 0) come on top; nothing else.
  @Test func readHeadersCountsEachFrameUnderItsProtocol() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let loop = try startLoop(network, .readHeaders)
    try network.sendInterleavedMix(count: Self.frames)
    let settled = eventually { loop.framesHandled >= Self.frames }
    usleep(100_000)
    loop.stop()
    #expect(settled, "handled \(loop.framesHandled) of \(Self.frames)")
    let counts = loop.protocolCounts
    let sent = Self.occurrences
    #expect(counts.reduce(0, +) == loop.framesHandled)
    #expect(counts[17] == sent[0...5].reduce(0, +))
    #expect(counts[6] == sent[6])
    #expect(counts[0] >= sent[7])
    let others = loop.framesHandled - Self.frames
    #expect(counts[0] - sent[7] + counts[58] == others, "\(others) frames of the peer's own")
  }

  /// The `mix-sends` loop and the datapath running xdp_classify, each on
  /// the same interleaved traffic, come to the same verdicts (REDIRECT to
  /// loopback fails the same way in both), and the loop's PASS frames all
  /// went out through its sends, as the datapath's did.
  @Test func mixSendsDecidesAndSendsAsTheDatapath() throws {
    let sent = Self.occurrences
    var loopCounts: [XDPAction: UInt64] = [:]
    var loopOthers: UInt64 = 0
    do {
      let network = try DatapathNetwork()
      defer { network.tearDown() }
      let loop = try startLoop(network, .mixSends)
      try network.sendInterleavedMix(count: Self.frames)
      let settled = eventually { loop.framesHandled >= Self.frames }
      usleep(100_000)
      loop.stop()
      #expect(settled, "handled \(loop.framesHandled) of \(Self.frames)")
      loopCounts = loop.verdictCounts
      loopOthers = loop.framesHandled - Self.frames
      #expect(loop.slowPath.passFrames == loopCounts[.pass, default: 0])
      #expect(loop.slowPath.passCalls > 0)
    }
    #expect(loopCounts[.drop] == sent[0...2].reduce(0, +))
    #expect(loopCounts[.tx] == sent[3] + sent[4])
    #expect(loopCounts[.pass] == sent[5] + loopOthers)
    #expect(loopCounts[.redirect] == sent[6])
    #expect(loopCounts[.aborted] == sent[7])

    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let datapath = try SoftwareDatapath.start(
      DatapathConfiguration(
        interface: network.veth.name,
        source: ProgramSource(
          objectPath: SoftwareDatapathTests.classify, programName: "xdp_classify_prog")))
    defer {
      datapath.stop()
      datapath.wait()
    }
    #expect(try GroupedActionsTests.sendMix(Self.frames, through: datapath, on: network).settled)
    usleep(100_000)
    let status = datapath.status()
    let others = GroupedActionsTests.counted(status) - Self.frames
    let actions = status.counters.actions
    #expect(actions[.drop].packets == loopCounts[.drop])
    #expect(actions[.tx].packets == loopCounts[.tx])
    #expect(actions[.aborted].packets == loopCounts[.aborted])
    #expect(actions[.pass].packets - others == loopCounts[.pass, default: 0] - loopOthers)
    #expect(status.redirectErrors?.total == loopCounts[.redirect])
    #expect(status.slowPath?.passFrames == actions[.pass].packets)
  }
}
