import BPF
import CLinux
import Foundation
import Glibc
import Kernel
import Testing

@testable import Lab

/// Whether this process can load BPF programs and make a veth pair, and
/// the reason when it cannot (tests are then skipped with that reason).
enum KernelAccess {
  static let unavailableReason: String? = {
    if getuid() != 0 { return "needs root (BPF_PROG_LOAD, BPF_PROG_TEST_RUN, veth)" }
    let probe = MapDefinition(name: "probe", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)
    do {
      _ = try Kernel.KernelMap.create(probe)
    } catch {
      return "BPF is not usable here: \(error)"
    }
    if IPCommand.path == nil { return "iproute2's ip is not installed" }
    return nil
  }()

  static var available: Bool { unavailableReason == nil }
  static var comment: Comment { Comment(rawValue: unavailableReason ?? "root and BPF available") }
}

/// A veth pair in the test's namespace whose ends have four receive
/// queues each: a real device for DEVMAP values and for the test run's
/// `ingress_ifindex`, with queues 0–3 for `rx_queue_index`. No addresses,
/// no traffic. Removed by ``delete()``.
struct TestDevice {
  static let receiveQueues: UInt32 = 4

  let name: String
  let index: UInt32

  static func create() throws -> TestDevice {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    let name = "xbf\(suffix)a"
    try IPCommand.run([
      "link", "add", name, "numrxqueues", "\(receiveQueues)", "type", "veth", "peer", "name",
      "xbf\(suffix)b", "numrxqueues", "\(receiveQueues)",
    ])
    let index = if_nametoindex(name)
    guard index != 0 else {
      try? IPCommand.run(["link", "delete", name])
      throw KernelSetupFailure(description: "veth \(name) was created but has no ifindex")
    }
    return TestDevice(name: name, index: index)
  }

  func delete() { try? IPCommand.run(["link", "delete", name]) }
}

/// A test device or CPU pinning could not be set up.
struct KernelSetupFailure: Error, CustomStringConvertible {
  var description: String
}

/// Keeps the calling thread on one CPU while `body` runs, so that every
/// `BPF_PROG_TEST_RUN` touches the same per-CPU map values.
///
/// The kernel's test run calls `migrate_disable()` and runs the program on
/// whichever CPU the calling thread is on at that moment; nothing else
/// picks a CPU. Pinned, that CPU is the same for every packet, and the
/// engine (configured with that processor id) updates the same copy.
/// Returns the CPU and what `body` returned; the old affinity is restored.
func onOneProcessor<Result>(_ body: (Int) throws -> Result) throws -> (cpu: Int, Result) {
  let maskSize = 128  // bytes: 1024 CPUs, as glibc's cpu_set_t
  var previous = [UInt8](repeating: 0, count: maskSize)
  guard sched_getaffinity(0, maskSize, &previous) == 0 else {
    throw KernelSetupFailure(description: "sched_getaffinity failed: errno \(clinux_errno())")
  }
  let cpu = Int(sched_getcpu())
  guard cpu >= 0, cpu < maskSize * 8 else {
    throw KernelSetupFailure(description: "sched_getcpu failed: errno \(clinux_errno())")
  }
  var only = [UInt8](repeating: 0, count: maskSize)
  only[cpu / 8] = UInt8(1 << (cpu % 8))
  guard sched_setaffinity(0, maskSize, only) == 0 else {
    throw KernelSetupFailure(
      description: "sched_setaffinity(\(cpu)) failed: errno \(clinux_errno())")
  }
  defer { sched_setaffinity(0, maskSize, previous) }
  return (cpu, try body(cpu))
}
