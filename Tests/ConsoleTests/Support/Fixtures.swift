import BPF
import Console
import Deployment
import Foundation
import Inspection
import Kernel
import Lab
import LiveConsole

/// Snapshots built from recorded data: the i40e machine that Control's
/// tests use (read from their fixture through Control's types) and
/// traffic computed by Control's ``CounterTracker`` from made-up samples,
/// turned into Console's view model by LiveConsole as the live console's
/// are.
enum Fixtures {
  /// `Tests/InspectionTests/Fixtures/i40e-machine.json`.
  static var machineFile: URL {
    URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("InspectionTests/Fixtures/i40e-machine.json")
  }

  /// The recorded machine: two i40e ports among four other interfaces.
  static func machine() throws -> InterfaceInventory {
    try JSONDecoder().decode(InterfaceInventory.self, from: Data(contentsOf: machineFile))
  }

  /// The recorded machine with its i40e ports given another driver.
  static func machineWithoutI40e() throws -> InterfaceInventory {
    var machine = try machine()
    for index in machine.interfaces.indices where machine.interfaces[index].isI40e {
      machine.interfaces[index].driver?.driver = "ice"
    }
    return machine
  }

  /// The recorded machine with no XDP program anywhere.
  static func machineWithoutPrograms() throws -> InterfaceInventory {
    var machine = try machine()
    for index in machine.interfaces.indices { machine.interfaces[index].programs = [] }
    return machine
  }

  /// The recorded machine's interfaces, nothing attached by xdpbatch.
  static func idle(_ inventory: InterfaceInventory) -> ConsoleSnapshot {
    var snapshot = ConsoleSnapshot(listing: InterfaceListing(inventory, includeAll: true))
    snapshot.kernelBatchSupport = .unsupported("struct xdp_buff has no batch field")
    return snapshot
  }

  /// The sample objects the attach chooser offers.
  static let choices = [
    AttachChoice(
      objectPath: "build/samples/xdp1.o", programName: "xdp_prog1",
      summary: "count by protocol, drop"),
    AttachChoice(
      objectPath: "build/samples/xdp_tx.o", programName: "xdp_tx", summary: "swap MACs, transmit"),
    AttachChoice(
      objectPath: "build/samples/xdp_classify.o", programName: "xdp_classify",
      summary: "all five actions"),
  ]

  /// Packets per second of each action at second `t` of the made-up run.
  static func rate(_ action: XDPAction, at t: Int) -> UInt64 {
    switch action {
    case .aborted: t % 20 == 7 ? 1_200 : 0
    case .drop: 1_400_000 + UInt64((t * 37) % 23) * 20_000
    case .pass: 300_000 + UInt64(t % 10) * 15_000
    case .tx: t < 40 ? 0 : 650_000
    case .redirect: 90_000 + UInt64((t * 13) % 7) * 4_000
    }
  }

  /// xdp_prog1 running in batch mode on ens1f1 for 90 s, its counters fed
  /// once a second through a ``CounterTracker``.
  static func live() throws -> ConsoleSnapshot {
    var snapshot = idle(try machine())
    snapshot.selectedInterface = "ens1f1"
    snapshot.program = ProgramStatus(
      objectPath: "/work/main/build/samples/xdp1.o", programName: "xdp_prog1", mode: .batch,
      strategy: .shift, bound: .count, batchSize: 64, attachMode: .native,
      instructionsBefore: 27, instructionsAfter: 41,
      nanosecondsPerPacket: [.perPacket: 38.2, .batch: 30.6])
    var tracker = CounterTracker()
    var counts = ActionCounts()
    var history = RateHistory()
    var report: CounterTracker.Report?
    for second in 0...90 {
      for action in XDPAction.allCases {
        let packets = rate(action, at: second)
        counts[action].packets += packets
        counts[action].bytes += packets * (action == .tx ? 98 : 64)
      }
      let sample = CounterSample(
        time: Double(second), mapID: 7, actions: counts, programID: 57,
        runCount: UInt64(second) * 1000, runTimeNanoseconds: UInt64(second) * 30_600)
      let step = tracker.record(sample)
      history.append(time: Double(second), packetsPerSecond: step.packetsPerSecond)
      report = step
    }
    if let report { snapshot.traffic = ActionTraffic(report) }
    snapshot.history = history
    snapshot.status = .info("attached xdp_prog1 to ens1f1 (native), batch of 64")
    snapshot.attachChoices = choices
    return snapshot
  }
}
