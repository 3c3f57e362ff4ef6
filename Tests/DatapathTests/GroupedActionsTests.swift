import BPF
import Datapath
import Deployment
import Foundation
import Glibc
import Lab
import TestSupport
import Testing

/// Grouped actions (every drop, then TX and REDIRECT, then PASS) change
/// the order a batch is acted on in, never what is counted: the same
/// interleaved frames give the engine's prediction per action either way.
@Suite(
  .serialized,
  .enabled(if: DatapathAccess.available, Comment(rawValue: DatapathAccess.unavailableReason ?? "")))
struct GroupedActionsTests {
  /// Frames sent per run (one sending thread: frame n is variant(of: n)).
  static let frames: UInt64 = 64 * 40

  /// What the engine predicts for the first ``frames`` frames of the mix.
  static func predicted() throws -> ActionCounts {
    var occurrences = [UInt64](repeating: 0, count: InterleavedMix.variants)
    for n in 0..<UInt32(frames) { occurrences[InterleavedMix.variant(of: n)] += 1 }
    return try SoftwareDatapathTests.predicted(
      (0..<InterleavedMix.variants).map { (InterleavedMix.frame(variant: $0), occurrences[$0]) })
  }

  /// Frames `datapath` counted: every action, and the redirects that
  /// failed (ifindex 1 is loopback: every redirect of the mix fails,
  /// visibly, as a redirect error; REDIRECT counts only frames that left).
  static func counted(_ status: DatapathStatus) -> UInt64 {
    status.counters.actions.totalPackets + (status.redirectErrors?.total ?? 0)
  }

  /// Sends the first `frames` frames of the mix through `datapath` and
  /// waits until it counted them; whether it did is in the result.
  static func sendMix(
    _ frames: UInt64, through datapath: SoftwareDatapath, on network: DatapathNetwork
  ) throws -> (settled: Bool, status: DatapathStatus) {
    try network.sendInterleavedMix(count: frames)
    let settled = eventually { counted(datapath.status()) >= frames }
    return (settled, datapath.status())
  }

  @Test(arguments: [Form.perPacket, .batch])
  func groupedAndInOrderCountTheSame(form: Form) throws {
    let expected = try Self.predicted()
    for action in XDPAction.allCases {
      #expect(expected[action].packets > 0, "the mix gives \(action.name)")
    }
    var results: [Bool: ActionCounts] = [:]
    for grouped in [false, true] {
      let network = try DatapathNetwork()
      defer { network.tearDown() }
      let datapath = try SoftwareDatapath.start(
        DatapathConfiguration(
          interface: network.veth.name,
          source: ProgramSource(
            objectPath: SoftwareDatapathTests.classify, programName: "xdp_classify_prog"),
          form: form, groupActions: grouped))
      defer {
        datapath.stop()
        datapath.wait()
      }
      #expect(datapath.status().groupActions == grouped)
      let (settled, status) = try Self.sendMix(Self.frames, through: datapath, on: network)
      #expect(settled, "counted \(Self.counted(status)) of \(Self.frames)")
      #expect(status.socket.fillRingEmpty == 0 && status.socket.rxRingFull == 0)
      var left = expected
      left[.redirect] = ActionCount(packets: 0, bytes: 0)
      #expect(status.counters.actions == left, "grouped: \(grouped)")
      #expect(status.counters.redirectFailed.packets == expected[.redirect].packets)
      #expect(status.redirectErrors?.total == expected[.redirect].packets)
      results[grouped] = status.counters.actions
    }
    #expect(results[false] == results[true])
  }

  /// RX batches paced to 64 frames (a full ring batch, NAPI's budget): the
  /// worker counts each batch from the runner's per-action counts and
  /// corrects only the frames that did not end done, so a batch's last
  /// frame counted or acted on twice, or not at all, shows in every
  /// action's count. Both forms run (the comparison window alternates
  /// them from the start).
  @Test func fullRingBatchesCountEveryFrame() throws {
    let expected = try Self.predicted()
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    var configuration = try DatapathConfiguration(
      interface: network.veth.name,
      source: ProgramSource(
        objectPath: SoftwareDatapathTests.classify, programName: "xdp_classify_prog"),
      form: .batch)
    // 64 frames take 3.2 ms at the generator's 20,000 a second.
    configuration.rxPacing = RXPacing(frames: 64, maximumDelay: 50_000_000)
    let datapath = try SoftwareDatapath.start(configuration)
    defer {
      datapath.stop()
      datapath.wait()
    }
    let (settled, status) = try Self.sendMix(Self.frames, through: datapath, on: network)
    #expect(settled, "counted \(Self.counted(status)) of \(Self.frames)")
    var left = expected
    left[.redirect] = ActionCount(packets: 0, bytes: 0)
    #expect(status.counters.actions == left)
    #expect(status.redirectErrors?.total == expected[.redirect].packets)
    let batches = status.forms.perPacket.batches + status.forms.batch.batches
    let packets = status.forms.perPacket.packets + status.forms.batch.packets
    // Full batches: 40 of 64 frames (the peer's own neighbour discovery
    // frames, if any came, can make one more).
    #expect(packets >= Self.frames)
    #expect(batches <= (packets + 63) / 64 + 1, "\(batches) RX batches for \(packets) frames")
    #expect(status.forms.perPacket.batches > 0 && status.forms.batch.batches > 0)
  }
}
