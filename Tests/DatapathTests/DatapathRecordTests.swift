import Datapath
import Deployment
import Foundation
import Glibc
import Kernel
import Lab
import TestSupport
import Testing

/// The record is the one source of truth: `datapath form` changes it, a
/// dead datapath is reported as such and repaired by the next command,
/// TAP names are unique whatever the interface names, concurrent
/// `detach`es never refuse xdpbatch's own program, and `detach` returns
/// when everything is gone.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct DatapathRecordTests {
  static func attach(_ interface: String, form: String = "batch") throws -> ProcessResult {
    try BuiltXDPBatch.run([
      "attach", interface, SoftwareDatapathTests.classify, "--program", "xdp_classify_prog",
      "--datapath", "software", "--form", form,
    ])
  }

  static func stats(_ interface: String) throws -> [String: Any] {
    let result = try BuiltXDPBatch.run(["stats", interface, "--json"])
    try #require(result.status == 0, "\(result.errors)")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
  }

  /// Nothing of the datapath is left on `interface`.
  static func expectNothingLeft(
    _ interface: String, tap: String, _ context: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let state = StateDirectory()
    #expect(
      state.record(interface: interface) == nil, "\(context): record",
      sourceLocation: sourceLocation)
    #expect(
      DatapathConcurrencyTests.datapathProcesses(interface).isEmpty, "\(context): process",
      sourceLocation: sourceLocation)
    #expect(
      if_nametoindex(tap) == 0, "\(context): TAP device \(tap)", sourceLocation: sourceLocation)
    #expect(
      access(state.path + "/\(interface).sock", F_OK) != 0, "\(context): control socket",
      sourceLocation: sourceLocation)
    #expect(
      access(PinDirectory(interface: interface).path, F_OK) != 0, "\(context): pins",
      sourceLocation: sourceLocation)
    #expect(
      try XDPLink.links(onInterface: if_nametoindex(interface)).isEmpty, "\(context): link",
      sourceLocation: sourceLocation)
  }

  @Test func datapathFormGoesThroughTheRecord() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    try #require(try Self.attach(interface, form: "per-packet").status == 0)
    let changed = try BuiltXDPBatch.run(["datapath", "form", interface, "batch"])
    #expect(changed.status == 0, "\(changed.errors)")
    #expect(changed.output.contains("(batch, software datapath)"), "\(changed.output)")
    #expect(StateDirectory().record(interface: interface)?.form == .batch)
    #expect(try DatapathClient(interface: interface).status().form == .batch)
    var stats = try Self.stats(interface)
    #expect(stats["form"] as? String == "batch" && stats["datapath"] as? String == "software")
    // Without an argument it toggles, again through the record.
    let toggled = try BuiltXDPBatch.run(["datapath", "form", interface])
    #expect(toggled.status == 0, "\(toggled.errors)")
    #expect(StateDirectory().record(interface: interface)?.form == .perPacket)
    stats = try Self.stats(interface)
    #expect(stats["form"] as? String == "per-packet")
    #expect(try DatapathClient(interface: interface).status().form == .perPacket)

    // datapath status: a table, or JSON with --json.
    let table = try BuiltXDPBatch.run(["datapath", "status", interface])
    #expect(table.status == 0)
    #expect(table.output.contains("form             per-packet"), "\(table.output)")
    #expect(table.output.contains("redirect errors  0"), "\(table.output)")
    let json = try BuiltXDPBatch.run(["datapath", "status", interface, "--json"])
    let document = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
    #expect(document?["form"] as? String == "per-packet", "\(json.output)")

    // kill -9 of the datapath: every reader says the kernel fallback runs
    // the program per packet; the next command starts the datapath again.
    let process = try #require(StateDirectory().record(interface: interface)?.process)
    #expect(try BuiltXDPBatch.run(["datapath", "form", interface, "batch"]).status == 0)
    kill(process.pid, SIGKILL)
    #expect(eventually { !process.isAlive })
    stats = try Self.stats(interface)
    #expect(stats["datapath"] as? String == "kernel")
    #expect(stats["form"] as? String == "per-packet", "the fallback is the per-packet program")
    #expect(stats["datapath_dead"] as? Bool == true)
    let text = try BuiltXDPBatch.run(["stats", interface])
    #expect(text.output.contains("kernel fallback, software datapath dead"), "\(text.output)")
    let again = try BuiltXDPBatch.run(["datapath", "form", interface, "batch"])
    #expect(again.status == 0, "\(again.errors)")
    stats = try Self.stats(interface)
    #expect(stats["datapath"] as? String == "software" && stats["form"] as? String == "batch")
    #expect(stats["datapath_dead"] == nil)

    // datapath stop: the table-like line, the process and TAP gone when it returns.
    let tap = try #require(PassDeviceName.for(interface))
    let stopped = try BuiltXDPBatch.run(["datapath", "stop", interface])
    #expect(stopped.status == 0, "\(stopped.errors)")
    #expect(stopped.output.contains("stopped the software datapath of \(interface)"))
    #expect(if_nametoindex(tap) == 0, "the TAP device is gone when stop returns")
    #expect(DatapathConcurrencyTests.datapathProcesses(interface).isEmpty)
    #expect(try Self.stats(interface)["datapath_dead"] as? Bool == true)
    #expect(try BuiltXDPBatch.run(["detach", interface]).status == 0)
    try Self.expectNothingLeft(interface, tap: tap, "after detach")
  }

  /// Names of 15 characters that share their first 11, with dots (as
  /// VLAN names have): each gets a TAP device of its own.
  @Test func longAndCollidingNamesGetTheirOwnTAPDevices() throws {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36).padding(
      toLength: 6, withPad: "0", startingAt: 0)
    let common = "xbl\(suffix)nc"  // 11 characters
    let namespace = NetworkNamespace(name: "xbl-\(suffix)")
    let names = [common + "1234", common + "123b", common + ".100", common + ".200"]
    let pairs = names.enumerated().map { index, name in
      VethPair(
        name: name, peer: "xbl\(suffix)p\(index)", namespace: namespace,
        address: "198.18.0.1/30", peerAddress: "198.18.0.2/30")
    }
    _ = try NetworkNamespace.create(namespace.name)
    defer {
      for pair in pairs {
        _ = try? BuiltXDPBatch.run(["detach", pair.name])
        pair.delete()
      }
      namespace.delete()
    }
    for pair in pairs { try pair.create() }
    var taps: [String] = []
    for name in names {
      #expect(name.utf8.count == 15)
      let attached = try Self.attach(name)
      #expect(attached.status == 0, "\(name): \(attached.errors)")
      let status = try DatapathClient(interface: name).status()
      #expect(if_nametoindex(status.passDevice) != 0)
      taps.append(status.passDevice)
    }
    #expect(Set(taps).count == names.count, "one TAP device each: \(taps)")
    for (name, tap) in zip(names, taps) {
      #expect(try BuiltXDPBatch.run(["detach", name]).status == 0)
      try Self.expectNothingLeft(name, tap: tap, name)
    }
  }

  /// A TAP name someone else holds: the attach fails naming the device,
  /// with no hint about /dev/net/tun, and leaves nothing.
  @Test func aTakenTAPNameIsNamedAsTheCause() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let tap = try #require(PassDeviceName.for(interface))
    // A persistent TAP device of another tool holds the name.
    let dummy = try runProcess(
      URL(fileURLWithPath: DatapathAccess.ip), ["tuntap", "add", "dev", tap, "mode", "tap"])
    try #require(dummy.status == 0, "\(dummy.errors)")
    defer { _ = try? runProcess(URL(fileURLWithPath: DatapathAccess.ip), ["link", "del", tap]) }
    let attached = try Self.attach(interface)
    #expect(attached.status == 1)
    #expect(
      attached.errors.contains("a network device named \(tap) exists already"), "\(attached.errors)"
    )
    #expect(!attached.errors.contains("/dev/net/tun"), "\(attached.errors)")
    #expect(StateDirectory().record(interface: interface) == nil)
    #expect(try XDPLink.links(onInterface: if_nametoindex(interface)).isEmpty)
    #expect(access(PinDirectory(interface: interface).path, F_OK) != 0)
  }

  /// Three `detach`es at once of a software attachment: one detaches,
  /// the others find nothing attached; none refuses xdpbatch's own
  /// program as foreign; when the first returns, nothing is left.
  @Test func concurrentDetachesNeverRefuseTheirOwnProgram() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    for round in 0..<5 {
      try #require(
        try Self.attach(interface, form: round.isMultiple(of: 2) ? "batch" : "per-packet").status
          == 0)
      let tap = try #require(PassDeviceName.for(interface))
      let errors = (0..<3).map { _ in Pipe() }
      let processes = try errors.map {
        try DatapathConcurrencyTests.start(["detach", interface], errors: $0)
      }
      let messages = errors.map {
        String(decoding: $0.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      }
      for process in processes { process.waitUntilExit() }
      let succeeded = processes.filter { $0.terminationStatus == 0 }.count
      #expect(succeeded >= 1, "round \(round): \(messages)")
      for (process, message) in zip(processes, messages) where process.terminationStatus != 0 {
        #expect(message.contains("has no program attached"), "round \(round): \(message)")
        #expect(!message.contains("--force"), "round \(round): \(message)")
      }
      try Self.expectNothingLeft(interface, tap: tap, "round \(round)")
    }
  }
}
