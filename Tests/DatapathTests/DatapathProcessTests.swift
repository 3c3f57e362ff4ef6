import BPF
import Control
import Datapath
import Foundation
import Glibc
import TestSupport
import Testing

/// The datapath as a process (`xdpbatch datapath run`): killed with
/// SIGKILL under traffic, the interface falls back to the kernel.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct DatapathProcessTests {
  /// Starts `xdpbatch datapath run` on the network's interface and waits
  /// until its control socket answers.
  static func launch(_ network: DatapathNetwork, form: Form) throws -> Process {
    let process = Process()
    process.executableURL = try #require(BuiltXDPBatch.url)
    process.arguments = [
      "datapath", "run", network.veth.name, SoftwareDatapathTests.classify, "--program",
      "xdp_classify_prog", "--form", form.rawValue,
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let client = DatapathClient(interface: network.veth.name)
    let answered = eventually(seconds: 10) { (try? client.status()) != nil }
    if !answered { process.terminate() }
    try #require(answered, "the datapath never answered on its control socket")
    return process
  }

  @Test func killNineFallsBackToTheKernel() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let process = try Self.launch(network, form: .batch)
    let client = DatapathClient(interface: network.veth.name)
    let tap = try client.status().passDevice
    #expect(if_nametoindex(tap) != 0)
    let generator = TrafficGenerator.start(
      .init(
        frames: [DatapathNetwork.udp(port: 9)], interface: network.veth.peer,
        namespace: network.namespace, fullSpeed: true))
    defer { generator.stop() }
    #expect(eventually { ((try? client.status())?.counters.actions[.drop].packets ?? 0) > 1000 })
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal)
    // The kernel's own counters (the fallback's counting pass) keep growing.
    let pins = PinDirectory(interface: network.veth.name)
    let counters = ActionCounters(
      map: try KernelMap.open(pinnedAt: pins.countersPath, as: ActionCounters.definition))
    let first = try counters.read()[.drop].packets
    #expect(eventually { ((try? counters.read()[.drop].packets) ?? 0) > first + 1000 })
    // The process's sockets and TAP device went with it.
    #expect(eventually { if_nametoindex(tap) == 0 })
    #expect((try? client.status()) == nil)
  }
}
