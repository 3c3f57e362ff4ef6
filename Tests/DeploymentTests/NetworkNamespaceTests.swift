import Deployment
import Foundation
import Glibc
import Kernel
import KernelTestSupport
import TestSupport
import Testing

/// xdpbatch run for an interface in another network namespace. The state
/// directory `/run/xdpbatch` is shared by every network namespace of the
/// mount namespace, and interface names are not: each record says which
/// network namespace it was made in, and commands elsewhere leave it alone.
/// `ip netns exec` also runs its command in a mount namespace of its own,
/// without the host's bpffs, where pins go with the command: attaching
/// there is refused, naming the way that works (`nsenter --net`).
@Suite(.serialized, .kernelAccess, .builtXDPBatch, .sample("xdp_classify"))
struct NetworkNamespaceTests {
  static let classifier = PackageLayout.sample("xdp_classify")
  static let ip = URL(fileURLWithPath: "/usr/sbin/ip")
  static let nsenter = URL(fileURLWithPath: "/usr/bin/nsenter")

  /// `xdpbatch ARGUMENTS` entered into `namespace` with `nsenter --net`.
  static func runInside(_ namespace: NetworkNamespace, _ arguments: [String]) throws
    -> ProcessResult
  {
    let binary = try #require(BuiltXDPBatch.url)
    return try runProcess(nsenter, ["--net=" + namespace.path, binary.path] + arguments)
  }

  /// `attach` of the classifier to `interface` in generic mode.
  static func attachClassifier(_ interface: String) -> [String] {
    ["attach", interface, classifier, "--program", "xdp_classify_prog", "--mode", "skb"]
  }

  /// Whether the kernel runs an XDP program on `interface` in `namespace`.
  static func runsXDP(_ interface: String, in namespace: NetworkNamespace) throws -> Bool {
    let shown = try runProcess(ip, ["-n", namespace.name, "link", "show", interface])
    try #require(shown.status == 0, "\(shown.errors)")
    return shown.output.contains("prog/xdp")
  }

  /// Before, the attach said it attached, and the program was detached as
  /// the command ended (its pinned link went with the command's bpffs),
  /// with the record left saying it ran.
  @Test func attachingUnderIPNetnsExecIsRefusedAndLeavesNothing() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let peer = network.veth.peer
    let binary = try #require(BuiltXDPBatch.url)
    let attach = try runProcess(
      Self.ip,
      ["netns", "exec", network.namespace.name, binary.path] + Self.attachClassifier(peer))
    #expect(attach.status == 1, "\(attach.output)")
    #expect(attach.errors.contains("nsenter --net=/run/netns/NAME"), "\(attach.errors)")
    #expect(attach.errors.contains("a mount namespace of its own"), "\(attach.errors)")
    #expect(try !Self.runsXDP(peer, in: network.namespace))
    #expect(TestNetwork.stateFiles(of: peer) == [])
  }

  /// Attached with `nsenter --net`, the program stays; the record names
  /// the namespace; a host command (which cannot see the peer) leaves
  /// record and pins alone, and a command in the namespace detaches it.
  @Test func anAttachmentInAnotherNamespaceIsLeftToThatNamespace() throws {
    let network = try TestNetwork()
    let peer = network.veth.peer
    defer {
      _ = try? Self.runInside(network.namespace, ["detach", peer])
      network.tearDown()
    }
    let attach = try Self.runInside(network.namespace, Self.attachClassifier(peer))
    #expect(attach.status == 0, "\(attach.errors)")
    #expect(try Self.runsXDP(peer, in: network.namespace))
    var inode = stat()
    try #require(stat(network.namespace.path, &inode) == 0)
    let record = try #require(StateDirectory().record(interface: peer))
    #expect(record.networkNamespace == UInt64(inode.st_ino))
    #expect(record.networkNamespace != NetworkNamespace.currentIdentifier)
    let files = Set(TestNetwork.stateFiles(of: peer))
    #expect(files.contains(StateDirectory().recordPath(interface: peer)))

    let host = try BuiltXDPBatch.run(["detach", network.veth.name])
    #expect(host.status == 1, "\(host.output)")
    #expect(Set(TestNetwork.stateFiles(of: peer)) == files)
    #expect(PinDirectory.exists(PinDirectory(interface: peer).linkPath))
    #expect(try Self.runsXDP(peer, in: network.namespace))

    let detach = try Self.runInside(network.namespace, ["detach", peer])
    #expect(detach.status == 0, "\(detach.errors)")
    #expect(try !Self.runsXDP(peer, in: network.namespace))
    #expect(TestNetwork.stateFiles(of: peer) == [])
    #expect(!PinDirectory.exists(PinDirectory(interface: peer).path))
  }

  /// An interface here named like one in another namespace shares its
  /// record, lock and pin directory (they go by name): commands here for
  /// that name are refused, naming the namespace, and the other
  /// namespace's attachment stays as it was. Before, `attach` here took
  /// over the record and pins of the program running there.
  @Test func anInterfaceNamedLikeOneInAnotherNamespaceIsRefused() throws {
    let network = try TestNetwork()
    let peer = network.veth.peer
    defer {
      _ = try? runProcess(Self.ip, ["link", "delete", peer])
      _ = try? Self.runInside(network.namespace, ["detach", peer])
      network.tearDown()
    }
    let attach = try Self.runInside(network.namespace, Self.attachClassifier(peer))
    #expect(attach.status == 0, "\(attach.errors)")
    let record = try #require(StateDirectory().record(interface: peer))
    let files = Set(TestNetwork.stateFiles(of: peer))
    // The host's own interface of that name.
    let twin = try runProcess(
      Self.ip, ["link", "add", peer, "type", "veth", "peer", "name", peer + "t"])
    try #require(twin.status == 0, "\(twin.errors)")

    let commands: [[String]] = [
      Self.attachClassifier(peer), ["swap", peer], ["detach", peer], ["stats", peer, "--json"],
    ]
    for command in commands {
      let result = try BuiltXDPBatch.run(command)
      #expect(result.status == 1, "\(command): \(result.output)")
      #expect(
        result.errors.contains(
          "record for \(peer) was made in network namespace \"\(network.namespace.name)\""),
        "\(command): \(result.errors)")
      #expect(
        result.errors.contains("nsenter --net=/run/netns/\(network.namespace.name) xdpbatch"),
        "\(command): \(result.errors)")
    }
    let host = try runProcess(Self.ip, ["link", "show", peer])
    #expect(!host.output.contains("prog/xdp"), "the host's \(peer) got no program")
    #expect(StateDirectory().record(interface: peer)?.programID == record.programID)
    #expect(Set(TestNetwork.stateFiles(of: peer)) == files)
    #expect(try Self.runsXDP(peer, in: network.namespace))
  }
}
