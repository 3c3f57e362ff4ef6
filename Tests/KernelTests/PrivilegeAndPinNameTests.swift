import Foundation
import Glibc
import Inspection
import KernelTestSupport
import Lab
import TestSupport
import Testing

@testable import Deployment
@testable import Kernel

/// Issue 13, items 1 and 2: without root every command that needs it is
/// refused at once with the reason, read-only ones say what they could
/// not see; an interface with a dot in its name can be attached to.
@Suite(
  .serialized,
  .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: BuiltXDPBatch.url != nil, Comment(rawValue: BuiltXDPBatch.missing)))
struct PrivilegeAndPinNameTests {
  static let classifier = PackageLayout.samplesDirectory.path + "/xdp_classify.o"

  @Test func commandsThatNeedRootRefuseWithTheReason() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let commands: [[String]] = [
      ["attach", interface, Self.classifier, "--program", "xdp_classify_prog"],
      ["swap", interface], ["detach", interface], ["stats", interface],
      ["demo", "up"], ["demo", "down"],
      // Unprivileged it would serve an empty /metrics with 200 (issue 24).
      ["exporter", "--listen", "127.0.0.1:0"],
    ]
    for command in commands {
      let result = try BuiltXDPBatch.run(command, asNobody: true)
      #expect(result.status == 1, "\(command)")
      #expect(
        result.errors
          == "xdpbatch: error: `xdpbatch \(command.prefix(command[0] == "demo" ? 2 : 1).joined(separator: " "))` needs root (CAP_BPF and CAP_NET_ADMIN)\n",
        "\(command)")
      #expect(result.output.isEmpty, "\(command): nothing claimed on stdout")
    }
  }

  @Test func readOnlyCommandsSayWhatTheyCouldNotSee() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let foreign = try ForeignProgram(on: interface, mode: .generic)
    defer { foreign.detach() }
    let listed = try BuiltXDPBatch.run(["list", "--all", "--json"], asNobody: true)
    #expect(listed.status == 0, "\(listed.errors)")
    let entries = try #require(
      try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]])
    let entry = try #require(entries.first { $0["name"] as? String == interface })
    let xdp = try #require(entry["xdp"] as? [String: Any])
    #expect(xdp["id"] as? Int == Int(foreign.id))
    #expect(xdp["program"] is NSNull, "a name it could not read is null, not a guess")
    let table = try BuiltXDPBatch.run(["list", "--all"], asNobody: true)
    #expect(table.output.contains("unknown name (needs root) (id \(foreign.id)"))
    // As root the name is read.
    let root = try BuiltXDPBatch.run(["list", "--all", "--json"])
    #expect(root.output.contains("\"program\" : \"foreign\""))
  }

  @Test func pinNamesEscapeDots() {
    #expect(PinDirectory.pinName(of: "eth0") == "eth0")
    #expect(PinDirectory.pinName(of: "eth0.100") == "eth0%2e100")
    #expect(PinDirectory.pinName(of: "a%2e") == "a%252e")
    #expect(PinDirectory.pinName(of: "a.") != PinDirectory.pinName(of: "a%2e"))
  }

  @Test func anInterfaceWithADotInItsNameCanBeAttachedTo() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    // A VLAN-style name (`eth0.100`) on a veth pair of its own.
    let base = String(network.veth.name.dropLast())
    let dotted = VethPair(
      name: base + ".7", peer: base + "q", namespace: network.namespace,
      address: "198.18.0.9/30", peerAddress: "198.18.0.10/30")
    try dotted.create()
    defer { dotted.delete() }
    let vlan = dotted.name
    let attached = try BuiltXDPBatch.run([
      "attach", vlan, Self.classifier, "--program", "xdp_classify_prog", "--mode", "generic",
    ])
    #expect(attached.status == 0, "\(attached.errors)")
    let pins = PinDirectory(interface: vlan)
    #expect(PinDirectory.exists(pins.linkPath))
    #expect(pins.path.hasSuffix("%2e7"))
    let detached = try BuiltXDPBatch.run(["detach", vlan])
    #expect(detached.status == 0, "\(detached.errors)")
    #expect(!PinDirectory.exists(pins.path))
  }
}

extension PrivilegeAndPinNameTests {
  /// Item 6: native XDP on a driver without it names the interface, the
  /// cause and the mode that works. Run on the loopback of the test's own
  /// namespace, so the machine's `lo` is never touched (entered with
  /// `nsenter --net`, which keeps the host's bpffs: under `ip netns exec`
  /// pinning is refused first, NetworkNamespaceTests).
  @Test func nativeModeOnADriverWithoutItNamesTheCauseAndTheWayOut() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let binary = try #require(BuiltXDPBatch.url)
    let result = try runProcess(
      URL(fileURLWithPath: "/usr/bin/nsenter"),
      [
        "--net=" + network.namespace.path, binary.path, "attach", "lo", Self.classifier,
        "--program", "xdp_classify_prog", "--mode", "native",
      ])
    #expect(result.status == 1)
    #expect(
      result.errors.contains(
        "cannot attach to lo in native mode: its driver has no native XDP"))
    #expect(result.errors.contains("`--mode skb`"))
    #expect(!result.errors.contains("needs root"))
  }
}
