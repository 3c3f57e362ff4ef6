import BPF
import Foundation
import Glibc
import Kernel
import KernelTestSupport
import LiveConsole
import Testing

@testable import Deployment

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
  var now: Double

  init(_ now: Double = 100) {
    self.now = now
  }

  func advance(by seconds: Double) { now += seconds }
}

/// Counters the test scripts: every read returns the next reading (the
/// last one again when the script runs out), `nil` for "nothing attached".
final class ScriptedTraffic: TrafficSource {
  /// What reads return, by interface; the first element is next.
  var readings: [String: [TrafficReading?]] = [:]
  /// A failure every read throws instead, while set.
  var failure: (any Error)?
  /// The interfaces read, in order, with the time asked for.
  private(set) var reads: [(interface: String, time: Double)] = []

  func read(interface: String, at time: Double) throws -> TrafficReading? {
    reads.append((interface, time))
    if let failure { throw failure }
    guard var queue = readings[interface], let next = queue.first else { return nil }
    if queue.count > 1 { queue.removeFirst() }
    readings[interface] = queue
    return next
  }

  func record(interface: String) throws -> AttachmentRecord? {
    if let failure { throw failure }
    return readings[interface]?.first.flatMap { $0?.record }
  }
}

/// A failure the scripted counters throw.
struct ScriptedFailure: Error, CustomStringConvertible {
  var description: String { "the map went away" }
}

/// Made-up values for the session's inputs.
enum Made {
  /// xdpbatch's record of `program` (per-packet, native) with id `id`,
  /// from an object that does not exist (no instruction counts).
  static func record(interface: String, program: String = "count", id: UInt32 = 42)
    -> AttachmentRecord
  {
    AttachmentRecord(
      interface: interface, object: "/nonexistent/\(program).o", program: program,
      form: .perPacket, attachMode: .native, programID: id)
  }

  /// A reading at `time` with `drops` dropped packets of 64 bytes so far,
  /// `runs` runs of 25 ns each.
  static func reading(
    _ record: AttachmentRecord?, time: Double, drops: UInt64, runs: UInt64 = 0, mapID: UInt32 = 7
  ) -> TrafficReading {
    var counts = ActionCounts()
    counts[.drop] = ActionCount(packets: drops, bytes: drops * 64)
    return TrafficReading(
      sample: CounterSample(
        time: time, mapID: mapID, actions: counts, programID: record?.programID ?? 42,
        runCount: runs, runTimeNanoseconds: runs * 25),
      record: record)
  }

  /// Two veths (one with an xdpbatch program), then an i40e port with a
  /// bus address, in index order 3, 4, 2.
  static let inventory = InterfaceInventory(
    interfaces: [
      NetworkInterface(
        name: "veth-a", index: 3, macAddress: "02:00:00:00:00:01", state: .up, kind: "veth",
        driver: DriverInfo(driver: "veth", busInfo: ""),
        programs: [AttachedProgram(mode: .native, id: 42, name: "count")]),
      NetworkInterface(
        name: "veth-b", index: 4, state: .down, kind: "veth",
        driver: DriverInfo(driver: "veth", busInfo: "N/A")),
      NetworkInterface(
        name: "ens1f0", index: 2, state: .up,
        driver: DriverInfo(driver: "i40e", busInfo: "0000:3b:00.0"), receiveQueues: 8,
        transmitQueues: 8),
    ], reportsXDPFeatures: true)
}
