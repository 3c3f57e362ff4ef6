import Datapath
import Deployment
import Foundation
import Glibc
import Kernel
import TestSupport
import Testing

/// 100 rounds of SIGKILL at a random moment of `attach --datapath
/// software`, `swap`, `detach`, or of the datapath process itself: after
/// each, `stats` tells what the kernel runs, the next command succeeds
/// and leaves one consistent state, and `detach` leaves no process, link,
/// pin, TAP device, socket or record.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct KilledCommandTests {
  static let rounds = 100

  @Test func killedCommandsAndDatapathsAreRepairedByTheNextCommand() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attach = [
      "attach", interface, SoftwareDatapathTests.classify, "--program", "xdp_classify_prog",
      "--datapath", "software", "--form",
    ]
    // How long an attach takes here: the kill points cover all of it.
    let started = Date()
    try #require(try BuiltXDPBatch.run(attach + ["batch"]).status == 0)
    let whole = UInt32(min(max(Date().timeIntervalSince(started), 0.1), 3) * 1_000_000)
    var random = SeededRandom(state: 0x6b69_6c6c)
    var killed: [String: Int] = [:]
    for round in 0..<Self.rounds {
      let form = round.isMultiple(of: 2) ? "batch" : "per-packet"
      let which = ["attach", "swap", "detach", "datapath"][round % 4]
      let context = "round \(round) (\(which))"
      let delay = UInt32.random(in: 0...whole * 11 / 10, using: &random)
      // swap, detach and the datapath's death start from a running
      // datapath; attach from either (every other round detached it).
      if which != "attach", StateDirectory().record(interface: interface) == nil {
        try #require(try BuiltXDPBatch.run(attach + [form]).status == 0, "\(context): set-up")
      }
      if which == "datapath" {
        // The datapath process, killed while a swap changes its form.
        let swap = try DatapathConcurrencyTests.start(["swap", interface], errors: Pipe())
        usleep(delay / 2)
        let victims =
          DatapathConcurrencyTests.datapathProcesses(interface)
          + (StateDirectory().record(interface: interface)?.process.map { [$0.pid] } ?? [])
        for pid in Set(victims) { kill(pid, SIGKILL) }
        swap.waitUntilExit()
        killed[which, default: 0] += victims.isEmpty ? 0 : 1
      } else {
        let arguments =
          which == "attach" ? attach + [form] : [which, interface]
        let process = try DatapathConcurrencyTests.start(arguments, errors: Pipe())
        usleep(delay)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal { killed[which, default: 0] += 1 }
      }
      // stats (a reader) says what runs, or that nothing does.
      let stats = try BuiltXDPBatch.run(["stats", interface, "--json"])
      if stats.status != 0 {
        // Nothing runs (a detach got past the link): stats says so and
        // has removed what the detach left.
        #expect(stats.errors.contains("has no program attached"), "\(context): \(stats.errors)")
        #expect(StateDirectory().record(interface: interface) == nil, "\(context): stale record")
        #expect(
          DatapathConcurrencyTests.datapathProcesses(interface).isEmpty,
          "\(context): a datapath process without a link")
      } else {
        let report =
          try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any]
        let record = StateDirectory().record(interface: interface)
        #expect(report?["program"] as? String == record?.program, "\(context): \(stats.output)")
        #expect(
          report?["datapath"] as? String == record?.runningDatapath.rawValue,
          "\(context): \(stats.output)")
      }
      // The next command succeeds and leaves one consistent state.
      let next = try BuiltXDPBatch.run(attach + [form])
      #expect(next.status == 0, "\(context): the next attach: \(next.errors)")
      try DatapathConcurrencyTests.expectConsistent(interface, context + ", after the next attach")
      #expect(StateDirectory().record(interface: interface)?.isSoftware == true, "\(context)")
      // Every other round: detach leaves nothing.
      if round.isMultiple(of: 2) {
        let tap = try #require(PassDeviceName.for(interface))
        let detached = try BuiltXDPBatch.run(["detach", interface])
        #expect(detached.status == 0, "\(context): detach: \(detached.errors)")
        try DatapathRecordTests.expectNothingLeft(interface, tap: tap, context + ", after detach")
      }
    }
    print("KilledCommandTests: SIGKILLs that hit a running process: \(killed)")
    #expect(try BuiltXDPBatch.run(["detach", interface]).status == 0)
    try DatapathRecordTests.expectNothingLeft(
      interface, tap: try #require(PassDeviceName.for(interface)), "at the end")
    let left = try FileManager.default.contentsOfDirectory(atPath: StateDirectory().path)
    #expect(!left.contains { $0.hasPrefix(interface + ".") }, "files of \(interface) left: \(left)")
  }
}
