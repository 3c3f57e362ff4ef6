import BPF
import Foundation
import Glibc
import LiveConsole
import Testing

@testable import Control

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

/// Whether this process can attach XDP programs and make namespaces.
enum KernelAccess {
  static let unavailableReason: String? = {
    if getuid() != 0 { return "needs root (BPF syscalls, namespaces)" }
    do {
      _ = try ActionCounters.create()
    } catch {
      return "BPF is not usable here: \(error)"
    }
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
    if !ip.contains(where: FileManager.default.isExecutableFile(atPath:)) {
      return "iproute2's ip is not installed"
    }
    return nil
  }()

  static var available: Bool { unavailableReason == nil }
  static var comment: Comment { Comment(rawValue: unavailableReason ?? "root and BPF available") }
}

/// A namespace and a veth pair made for one test, with a per-run suffix
/// and an address from 198.18.0.0/15, removed by ``tearDown()``.
struct TestNetwork {
  let namespace: NetworkNamespace
  let veth: VethPair

  init() throws {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    namespace = NetworkNamespace(name: "xbl-\(suffix)")
    veth = VethPair(
      name: "xbl\(suffix)h", peer: "xbl\(suffix)p", namespace: namespace,
      address: "198.18.0.1/30", peerAddress: "198.18.0.2/30")
    _ = try NetworkNamespace.create(namespace.name)
    do {
      try veth.create()
    } catch {
      namespace.delete()
      throw error
    }
  }

  /// Removes pins, the veth pair and the namespace; safe to call twice.
  func tearDown() {
    let pins = PinDirectory(interface: veth.name)
    if let attachment = try? XDPAttachment.open(interface: veth.name) {
      try? attachment.detach()
    }
    unlink(pins.linkPath)
    unlink(pins.countersPath)
    pins.removeDirectories()
    veth.delete()
    namespace.delete()
  }

  /// A UDP frame from the peer to a MAC nobody owns: the host's stack
  /// drops it after XDP and answers nothing the counters would see.
  static let frame = FrameTemplate.udp(
    from: [2, 0, 0, 0, 0, 2], to: [2, 0, 0, 0, 0, 0x99], source: [198, 18, 0, 2],
    destination: [198, 18, 0, 1])
}
