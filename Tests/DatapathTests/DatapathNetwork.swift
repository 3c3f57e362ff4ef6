import BPF
import Datapath
import Deployment
import Foundation
import Frames
import Glibc
import Kernel
import KernelTestSupport
import Lab
import TestSupport
import Testing

/// Whether this process can run the software datapath; the reason when not.
enum DatapathAccess {
  static let unavailableReason: String? = {
    if getuid() != 0 { return "needs root (BPF, AF_XDP, namespaces, TAP)" }
    let probe = MapDefinition(name: "probe", type: .xskmap, keySize: 4, valueSize: 4, maxEntries: 1)
    do {
      _ = try KernelMap.create(probe)
    } catch {
      return "AF_XDP maps are not usable here: \(error)"
    }
    if access("/dev/net/tun", F_OK) != 0 { return "no /dev/net/tun for the PASS device" }
    if !FileManager.default.isExecutableFile(atPath: ip) { return "iproute2's ip is not installed" }
    if PackageLayout.sampleObjects.isEmpty { return PackageLayout.samplesMissing }
    return nil
  }()

  static var available: Bool { unavailableReason == nil }
  static let ip =
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    } ?? "/usr/sbin/ip"
}

extension Trait where Self == ConditionTrait {
  /// The software datapath usable here (``DatapathAccess``).
  static var datapathAccess: Self {
    .enabled(
      if: DatapathAccess.available, Comment(rawValue: DatapathAccess.unavailableReason ?? ""))
  }
}

/// A namespace with one or two veth pairs made for one test (random
/// suffix, 198.18.0.0/15), removed with everything the datapath pinned by
/// ``tearDown()``.
struct DatapathNetwork {
  let namespace: NetworkNamespace
  let veth: VethPair
  let second: VethPair?

  init(secondPair: Bool = false) throws {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    namespace = NetworkNamespace(name: "xbd-\(suffix)")
    veth = VethPair(
      name: "xbd\(suffix)h", peer: "xbd\(suffix)p", namespace: namespace,
      address: "198.18.0.1/30", peerAddress: "198.18.0.2/30")
    second =
      secondPair
      ? VethPair(
        name: "xbd\(suffix)r", peer: "xbd\(suffix)q", namespace: namespace,
        address: "198.18.0.5/30", peerAddress: "198.18.0.6/30") : nil
    _ = try NetworkNamespace.create(namespace.name)
    do {
      try veth.create()
      try second?.create()
    } catch {
      veth.delete()
      namespace.delete()
      throw error
    }
  }

  /// Removes the attachment, every pin, the pairs and the namespace,
  /// after recording an issue for each file xdpbatch should have removed
  /// itself (``StateFileAudit``).
  func tearDown() {
    let interfaces = [veth.name] + (second.map { [$0.name] } ?? [])
    DatapathProcessAudit.stopSurvivors(of: interfaces)
    StateFileAudit.expectNothingLeft(of: interfaces)
    for pair in [veth] + (second.map { [$0] } ?? []) {
      if let attachment = try? XDPAttachment.open(interface: pair.name) {
        try? attachment.detach()
      }
      SoftwareDatapath.removeLeftovers(interface: pair.name)
      unlink("/run/xdpbatch/\(pair.name).log")
      let pins = PinDirectory(interface: pair.name)
      unlink(pins.linkPath)
      unlink(pins.countersPath)
      rmdir(pins.path)
      pair.delete()
    }
    namespace.delete()
  }

  /// Sends `count` copies of `frame` from the peer, waits until they left
  /// it. At a rate the software datapath takes without loss on a loaded
  /// machine (its sockets drop what arrives faster than it runs).
  func send(_ frame: FrameTemplate, count: UInt64, framesPerRun: UInt32 = 64) throws {
    let generator = TrafficGenerator.start(
      .init(
        frames: [frame], interface: veth.peer, namespace: namespace, framesPerRun: framesPerRun,
        limit: count, framesPerSecond: 20_000))
    if let failure = generator.wait() { throw failure }
  }

  /// Sends the first `count` frames of the ``InterleavedMix`` from the
  /// peer (one sending thread: frame n is `variant(of: n)`), as ``send``.
  func sendInterleavedMix(count: UInt64) throws {
    let generator = TrafficGenerator.start(
      .init(
        frames: InterleavedMix.frames, interface: veth.peer, namespace: namespace, limit: count,
        framesPerSecond: 20_000, order: InterleavedMix.order))
    if let failure = generator.wait() { throw failure }
  }

  /// A counter of `interface` in the root namespace (`rx_packets`, ...).
  static func statistic(_ interface: String, _ name: String) -> UInt64 {
    let path = "/sys/class/net/\(interface)/statistics/\(name)"
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "0"
    return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
  }

  /// `rx_packets` of `interface` inside the test's namespace.
  func peerReceived(_ interface: String) throws -> UInt64 {
    try peerStatistic(interface, "rx", "packets")
  }

  /// One of `ip -s -j link show`'s `stats64` counters (`direction` `rx` or
  /// `tx`) of `interface` inside the test's namespace: `tx` `dropped` of
  /// a veth's peer counts the frames its pair's full XDP ring refused.
  func peerStatistic(_ interface: String, _ direction: String, _ name: String) throws -> UInt64 {
    let result = try runProcess(
      URL(fileURLWithPath: DatapathAccess.ip),
      ["-n", namespace.name, "-s", "-j", "link", "show", "dev", interface])
    let json = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]]
    let stats = json?.first?["stats64"] as? [String: Any]
    let counters = stats?[direction] as? [String: Any]
    return (counters?[name] as? NSNumber)?.uint64Value ?? 0
  }

  /// The frames of the tests: UDP to port 9 (xdp_classify: DROP), 7 (TX),
  /// a local experimental EtherType (PASS; the host stack drops it without
  /// answering, so nothing comes back through the datapath), and IPv6 TCP
  /// (REDIRECT).
  static func udp(port: UInt16) -> FrameTemplate {
    FrameTemplate.udp(
      from: [2, 0, 0, 0, 0, 2], to: [2, 0, 0, 0, 0, 0x99], source: [198, 18, 0, 2],
      destination: [198, 18, 0, 1], destinationPort: port)
  }

  static let experimental = FrameTemplate(
    bytes: [2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 2, 0x88, 0xb5] + [UInt8](repeating: 7, count: 46))

  static let ipv6TCP: FrameTemplate = {
    var frame: [UInt8] = [2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 2, 0x86, 0xdd]
    frame += [0x60, 0, 0, 0, 0, 20, 6, 64]  // version, payload length 20, next header TCP
    frame += [UInt8](repeating: 0, count: 15) + [1]  // ::1
    frame += [UInt8](repeating: 0, count: 15) + [2]  // ::2
    frame += [0, 80, 0, 80] + [UInt8](repeating: 0, count: 16)
    return FrameTemplate(bytes: frame)
  }()
}

/// A packet socket bound to one interface for one EtherType: counts the
/// frames of that type the interface's receive path delivers (what a
/// protocol handler of the host would get).
final class EtherTypeListener {
  private let descriptor: Int32
  private var count = 0

  init(interface: String, etherType: UInt16) throws {
    guard let index = NetworkInterface.index(of: interface) else {
      throw SystemCallError("find \(interface)", errno: .noDevice)
    }
    let fd = socket(
      AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
      Int32(etherType.bigEndian))
    guard fd >= 0 else { throw SystemCallError("open a packet socket", errno: Errno.current) }
    // struct sockaddr_ll: family, protocol (network order), ifindex, then
    // hatype, pkttype, halen and the address, zero (20 bytes).
    var address = [UInt8](repeating: 0, count: 20)
    withUnsafeBytes(of: UInt16(AF_PACKET)) { address.replaceSubrange(0..<2, with: $0) }
    withUnsafeBytes(of: etherType.bigEndian) { address.replaceSubrange(2..<4, with: $0) }
    withUnsafeBytes(of: Int32(index)) { address.replaceSubrange(4..<8, with: $0) }
    let bound = address.withUnsafeBytes {
      bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(20))
    }
    guard bound == 0 else {
      let code = Errno.current
      close(fd)
      throw SystemCallError("bind a packet socket to \(interface)", errno: code)
    }
    descriptor = fd
  }

  deinit { close(descriptor) }

  /// Frames received so far (reads what waits on the socket).
  func received() -> Int {
    var buffer = [UInt8](repeating: 0, count: 2048)
    while recv(descriptor, &buffer, buffer.count, 0) > 0 { count += 1 }
    return count
  }
}
