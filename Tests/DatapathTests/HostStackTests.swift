import BPF
import Datapath
import Deployment
import Dispatch
import Foundation
import Glibc
import Kernel
import Lab
import TestSupport
import Testing

/// The host's own traffic through the software datapath, in each form, on
/// a veth pair with IPv4 and IPv6 addresses (a /30 and a /64 of their own,
/// so that no other test's pair answers): ping, ARP after the peer's
/// neighbours are flushed, TCP to a listener on the interface's address,
/// IPv6 ping; the peer sees only the interface's MAC and the TAP device
/// sends nothing; every frame the peer sent ran through the program once
/// (what the host sends does not).
/// ping and tcpdump, which `make deps` installs.
enum HostStackTools {
  static let ping = ["/usr/bin/ping", "/bin/ping"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
  static let tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
  static let missing: String? =
    ping == nil || tcpdump == nil ? "ping and tcpdump (make deps)" : nil
}

@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil && HostStackTools.missing == nil,
    Comment(
      rawValue: DatapathAccess.unavailableReason ?? HostStackTools.missing
        ?? BuiltXDPBatch.missing)))
struct HostStackTests {
  static let ping = HostStackTools.ping
  static let tcpdump = HostStackTools.tcpdump

  /// A pair whose /30 and /64 no other test uses at the same time.
  struct Network {
    let namespace: NetworkNamespace
    let veth: VethPair
    let address: String
    let peerAddress: String
    let address6: String

    init() throws {
      let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
      let block = UInt32.random(in: 1..<16_384)  // a /30 of 198.19.0.0/16
      let third = block >> 6
      let fourth = (block & 63) << 2
      address = "198.19.\(third).\(fourth + 1)"
      peerAddress = "198.19.\(third).\(fourth + 2)"
      let group = String(block, radix: 16)
      address6 = "2001:db8:\(group)::1"
      namespace = NetworkNamespace(name: "xbs-\(suffix)")
      veth = VethPair(
        name: "xbs\(suffix)h", peer: "xbs\(suffix)p", namespace: namespace,
        address: address + "/30", peerAddress: peerAddress + "/30")
      _ = try NetworkNamespace.create(namespace.name)
      do {
        try veth.create()
        for arguments in [
          ["-6", "addr", "add", address6 + "/64", "dev", veth.name, "nodad"],
          [
            "-n", namespace.name, "-6", "addr", "add", "2001:db8:\(group)::2/64", "dev", veth.peer,
            "nodad",
          ],
        ] {
          let result = try runProcess(URL(fileURLWithPath: DatapathAccess.ip), arguments)
          try #require(result.status == 0, "ip \(arguments): \(result.errors)")
        }
      } catch {
        veth.delete()
        namespace.delete()
        throw error
      }
    }

    func tearDown() {
      _ = try? BuiltXDPBatch.run(["detach", veth.name])
      veth.delete()
      namespace.delete()
    }

    /// Runs `arguments` inside the namespace.
    func inside(_ arguments: [String]) throws -> ProcessResult {
      try runProcess(
        URL(fileURLWithPath: DatapathAccess.ip), ["netns", "exec", namespace.name] + arguments)
    }

    /// The peer's transmitted frames.
    func peerSent() throws -> UInt64 {
      let result = try runProcess(
        URL(fileURLWithPath: DatapathAccess.ip),
        ["-n", namespace.name, "-s", "-j", "link", "show", "dev", veth.peer])
      let json =
        try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]]
      let tx = (json?.first?["stats64"] as? [String: Any])?["tx"] as? [String: Any]
      return (tx?["packets"] as? NSNumber)?.uint64Value ?? 0
    }
  }

  /// A TCP listener on `address`: accepts one connection, reads a line,
  /// answers `reply` and closes.
  final class Listener: @unchecked Sendable {
    let descriptor: Int32
    let port: UInt16
    private let done = DispatchSemaphore(value: 0)
    private(set) var received = ""

    init(address: String) throws {
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var socketAddress = sockaddr_in()
      socketAddress.sin_family = sa_family_t(AF_INET)
      inet_pton(AF_INET, address, &socketAddress.sin_addr)
      let bound = withUnsafePointer(to: &socketAddress) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      guard bound == 0, listen(fd, 1) == 0 else {
        close(fd)
        throw ListenFailed(address: address, errno: errno)
      }
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      _ = withUnsafeMutablePointer(to: &socketAddress) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
      }
      descriptor = fd
      port = UInt16(bigEndian: socketAddress.sin_port)
    }

    struct ListenFailed: Error {
      var address: String
      var errno: Int32
    }

    func serve(reply: String) {
      DispatchQueue.global().async { [self] in
        defer { done.signal() }
        let connection = accept(descriptor, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(connection, &buffer, buffer.count)
        if count > 0 { received = String(decoding: buffer[0..<count], as: UTF8.self) }
        _ = reply.withCString { write(connection, $0, strlen($0)) }
      }
    }

    func finish() -> Bool {
      let served = done.wait(timeout: .now() + 5) == .success
      close(descriptor)
      return served
    }
  }

  /// The peer's sent frames and the datapath's count at one moment, such
  /// that every frame sent by then is counted. The peer sends frames of
  /// its own at any time (IPv6 router solicitations, MLD reports): one
  /// sent after the first reading and counted before the second put
  /// the two off by one ("16 of the peer's 17 frames"). The pair is taken
  /// when no frame left the peer around the count, with time for frames
  /// in flight to arrive.
  static func baseline(_ network: Network, _ interface: String) throws -> (
    sent: UInt64, counted: UInt64
  ) {
    for _ in 0..<50 {
      let sent = try network.peerSent()
      usleep(100_000)
      let counted = status(interface)?.counters.actions.totalPackets ?? 0
      if try network.peerSent() == sent { return (sent, counted) }
    }
    Issue.record("the peer never stopped sending for 100 ms: no baseline")
    throw CancellationError()
  }

  static func status(_ interface: String) -> DatapathStatus? {
    try? DatapathClient(interface: interface).status()
  }

  @Test(arguments: [Form.perPacket, .batch])
  func theHostStackWorksThroughTheSoftwareDatapath(form: Form) throws {
    let network = try Network()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attached = try BuiltXDPBatch.run([
      "attach", interface, SoftwareDatapathTests.classify, "--program", "xdp_classify_prog",
      "--datapath", "software", "--form", form.rawValue,
    ])
    try #require(attached.status == 0, "\(attached.errors)")
    let status = try #require(Self.status(interface))
    #expect(status.form == form)
    let tap = status.passDevice
    let mac = try String(contentsOfFile: "/sys/class/net/\(interface)/address", encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let peerMAC = try network.inside(["cat", "/sys/class/net/\(network.veth.peer)/address"]).output
      .trimmingCharacters(in: .whitespacesAndNewlines)

    // tcpdump on the peer, link-level headers, for the whole exchange.
    let capture = Process()
    capture.executableURL = URL(fileURLWithPath: DatapathAccess.ip)
    capture.arguments = [
      "netns", "exec", network.namespace.name, Self.tcpdump!, "-i", network.veth.peer, "-e", "-n",
      "-l", "-U",
    ]
    let captured = Pipe()
    capture.standardOutput = captured
    capture.standardError = FileHandle.nullDevice
    try capture.run()
    // SIGKILL: a child of the test process starts with SIGTERM blocked.
    defer { if capture.isRunning { kill(capture.processIdentifier, SIGKILL) } }
    usleep(500_000)
    let (sentBefore, countedBefore) = try Self.baseline(network, interface)

    // ping from the peer.
    let pinged = try network.inside([
      Self.ping!, "-c", "3", "-i", "0.2", "-W", "2", network.address,
    ])
    #expect(pinged.status == 0, "ping: \(pinged.output)\(pinged.errors)")

    // ARP again after the peer forgets the interface: the answer comes
    // from the interface, with its MAC.
    _ = try network.inside([DatapathAccess.ip, "neigh", "flush", "dev", network.veth.peer])
    let again = try network.inside([Self.ping!, "-c", "2", "-i", "0.2", "-W", "2", network.address])
    #expect(again.status == 0, "ping after neigh flush: \(again.output)\(again.errors)")
    let neighbour = try network.inside([
      DatapathAccess.ip, "neigh", "show", network.address, "dev", network.veth.peer,
    ]).output
    #expect(neighbour.contains("lladdr \(mac)"), "the peer's neighbour entry: \(neighbour)")

    // TCP to a listener on the interface's address.
    let listener = try Listener(address: network.address)
    listener.serve(reply: "pong\n")
    let client = try network.inside([
      "bash", "-c",
      "exec 3<>/dev/tcp/\(network.address)/\(listener.port) && echo ping >&3 && head -n1 <&3",
    ])
    #expect(listener.finish(), "the listener served the connection")
    #expect(listener.received == "ping\n")
    #expect(
      client.status == 0 && client.output == "pong\n", "TCP: \(client.output)\(client.errors)")

    // IPv6 ping (neighbour discovery first).
    let pinged6 = try network.inside([
      Self.ping!, "-6", "-c", "3", "-i", "0.2", "-W", "2", network.address6,
    ])
    #expect(pinged6.status == 0, "ping -6: \(pinged6.output)\(pinged6.errors)")

    // Every frame the peer sent ran through the program once, as PASS
    // (xdp_classify passes ARP, ICMP, ICMPv6, TCP over IPv4); what the
    // host sent back did not.
    func counted() -> UInt64 {
      (Self.status(interface)?.counters.actions.totalPackets ?? 0) - countedBefore
    }
    func sent() -> UInt64 { ((try? network.peerSent()) ?? sentBefore) - sentBefore }
    #expect(sent() >= 3 + 2 + 3 + 3 + 3, "the peer sent \(sent()) frames")
    #expect(
      eventually { counted() == sent() },
      """
      the datapath counted \(counted()) of the peer's \(sent()) frames; \
      the socket's XDP_STATISTICS: \(String(describing: Self.status(interface)?.socket))
      """)
    let after = try #require(Self.status(interface))
    #expect(after.counters.actions[.pass].packets >= sent())
    #expect(after.form == form)
    // The TAP device sent nothing of its own: the host answered from the interface.
    #expect(DatapathNetwork.statistic(tap, "tx_packets") == 0, "the TAP device sent frames")

    usleep(200_000)  // tcpdump writes each frame as it comes (-U -l)
    kill(capture.processIdentifier, SIGKILL)
    capture.waitUntilExit()
    let lines = String(
      decoding: captured.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self
    ).split(separator: "\n")
    // `12:00:00.000000 SRC > DST, ethertype ...`
    let sources = Set(
      lines.compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) })
    #expect(lines.count >= Int(sent()), "tcpdump saw \(lines.count) frames")
    #expect(sources.contains(mac), "the interface's MAC on the wire: \(sources)")
    #expect(sources.isSubset(of: [mac, peerMAC]), "only the pair's MACs on the wire: \(sources)")
  }
}
