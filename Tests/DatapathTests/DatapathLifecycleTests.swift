import Datapath
import Foundation
import Glibc
import Kernel
import Lab
import TestSupport
import Testing

/// `attach --datapath software`, `swap`, `stats`, kill -9 and `detach`
/// through the built command line, on a veth pair the test makes.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct DatapathLifecycleTests {
  static func run(_ arguments: [String]) throws -> ProcessResult {
    try BuiltXDPBatch.run(arguments)
  }

  static func stats(_ interface: String) throws -> [String: Any] {
    let result = try run(["stats", interface, "--json"])
    try #require(result.status == 0, "\(result.errors)")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
  }

  @Test func attachSwapKillAndDetachLeaveNothing() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attached = try Self.run([
      "attach", interface, SoftwareDatapathTests.classify, "--program", "xdp_classify_prog",
      "--datapath", "software", "--form", "batch",
    ])
    try #require(attached.status == 0, "\(attached.errors)")
    let state = StateDirectory()
    let record = try #require(state.record(interface: interface))
    let process = try #require(record.process)
    #expect(record.isSoftware && record.form == .batch && process.isAlive)
    var stats = try Self.stats(interface)
    #expect(stats["datapath"] as? String == "software")
    #expect(stats["form"] as? String == "batch")
    #expect(stats["socket"] is [String: Any])

    let generator = TrafficGenerator.start(
      .init(
        frames: [DatapathNetwork.udp(port: 9)], interface: network.veth.peer,
        namespace: network.namespace, fullSpeed: true))
    defer { generator.stop() }
    func dropped() -> UInt64 {
      let actions = (try? Self.stats(interface))?["actions"] as? [String: Any]
      return ((actions?["drop"] as? [String: Any])?["packets"] as? NSNumber)?.uint64Value ?? 0
    }
    #expect(eventually { dropped() > 1000 })

    // swap toggles the form of the running datapath.
    let swapped = try Self.run(["swap", interface])
    #expect(swapped.status == 0, "\(swapped.errors)")
    stats = try Self.stats(interface)
    #expect(stats["form"] as? String == "per-packet")
    #expect(stats["datapath"] as? String == "software")

    // kill -9: the kernel fallback keeps counting; stats says so.
    kill(process.pid, SIGKILL)
    #expect(eventually { !process.isAlive })
    let afterKill = dropped()
    #expect(eventually { dropped() > afterKill + 1000 })
    #expect(try Self.stats(interface)["datapath"] as? String == "kernel")

    // The next swap recognises the dead pid, starts the datapath again and swaps.
    let recovered = try Self.run(["swap", interface])
    #expect(recovered.status == 0, "\(recovered.errors)")
    let restarted = try #require(state.record(interface: interface)?.process)
    #expect(restarted.pid != process.pid && restarted.isAlive)
    stats = try Self.stats(interface)
    #expect(stats["datapath"] as? String == "software")
    #expect(stats["form"] as? String == "batch")
    let tap = try #require(PassDeviceName.for(interface))
    #expect(if_nametoindex(tap) != 0)

    generator.stop()
    let detached = try Self.run(["detach", interface])
    #expect(detached.status == 0, "\(detached.errors)")
    #expect(eventually { !restarted.isAlive })
    #expect(state.record(interface: interface) == nil)
    #expect(access(state.path + "/\(interface).sock", F_OK) != 0)
    #expect(access(state.path + "/\(interface).log", F_OK) != 0)
    #expect(access(PinDirectory(interface: interface).path, F_OK) != 0)
    #expect(if_nametoindex(tap) == 0)
    #expect(try XDPLink.links(onInterface: if_nametoindex(interface)).isEmpty)
  }

  @Test func swapMovesAKernelAttachmentToSoftwareBatchAndBack() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attached = try Self.run([
      "attach", interface, SoftwareDatapathTests.classify, "--program", "xdp_classify_prog",
    ])
    try #require(attached.status == 0, "\(attached.errors)")
    #expect(try Self.stats(interface)["datapath"] as? String == "kernel")
    let toSoftware = try Self.run(["swap", interface])
    try #require(toSoftware.status == 0, "\(toSoftware.errors)")
    var stats = try Self.stats(interface)
    #expect(stats["datapath"] as? String == "software")
    #expect(stats["form"] as? String == "batch")
    let process = try #require(StateDirectory().record(interface: interface)?.process)
    let back = try Self.run(["swap", interface])
    try #require(back.status == 0, "\(back.errors)")
    stats = try Self.stats(interface)
    #expect(stats["datapath"] as? String == "kernel")
    #expect(stats["form"] as? String == "per-packet")
    #expect(eventually { !process.isAlive })
    // Back in the kernel, no datapath child holds the process lock: it is gone.
    let processLock = StateDirectory().file(interface + ".datapath")
    #expect(access(processLock, F_OK) != 0, "\(processLock) is left after the swap back")
    #expect(try Self.run(["detach", interface]).status == 0)
    #expect(access(PinDirectory(interface: interface).path, F_OK) != 0)
    #expect(access(StateDirectory().path + "/\(interface).log", F_OK) != 0)
  }

  @Test func swapWithNothingAttachedSaysSo() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let swapped = try Self.run(["swap", network.veth.name])
    #expect(swapped.status == 1)
    #expect(swapped.errors.contains("xdpbatch has no program attached to \(network.veth.name)"))
    #expect(!swapped.errors.contains("no record of which object"))
    #expect(StateDirectory().record(interface: network.veth.name) == nil)
  }

  @Test func aDatapathThatCannotStartLeavesNothing() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    // A tail call never returns to the batch loop: the program has no batch form.
    let attached = try Self.run([
      "attach", interface, PackageLayout.sample("xdp_tailcall"), "--program", "xdp_tailcall_prog",
      "--datapath", "software", "--form", "batch",
    ])
    #expect(attached.status == 1)
    #expect(attached.errors.contains("did not start"), "\(attached.errors)")
    #expect(attached.errors.contains("bpf_tail_call"), "\(attached.errors)")
    // One message on one line: the child's own `xdpbatch: error:` is not
    // repeated inside the parent's.
    #expect(
      attached.errors.components(separatedBy: "xdpbatch: error:").count == 2
        && !attached.errors.contains("xdpbatch datapath:"), "\(attached.errors)")
    #expect(attached.errors.hasSuffix("\n") && attached.errors.dropLast().allSatisfy { $0 != "\n" })
    let state = StateDirectory()
    #expect(state.record(interface: interface) == nil)
    #expect(access(state.path + "/\(interface).sock", F_OK) != 0)
    #expect(access(state.path + "/\(interface).log", F_OK) != 0)
    #expect(access(state.path + "/\(interface).datapath", F_OK) != 0)
    #expect(access(PinDirectory(interface: interface).path, F_OK) != 0)
    #expect(if_nametoindex(try #require(PassDeviceName.for(interface))) == 0)
    #expect(try XDPLink.links(onInterface: if_nametoindex(interface)).isEmpty)
  }
}
