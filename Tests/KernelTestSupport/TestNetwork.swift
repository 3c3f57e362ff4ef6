import Deployment
import Foundation
import Frames
import Inspection
import Kernel
import Lab

#if canImport(Glibc)
  import Glibc
#endif

/// A namespace and a veth pair made for one test, with a per-run suffix
/// (other tests run at the same time) and addresses from 198.18.0.0/15,
/// removed by ``tearDown()`` (call it in `defer`).
public struct TestNetwork {
  /// The namespace holding the peer.
  public let namespace: NetworkNamespace
  /// The pair: the host side in this namespace, the peer in ``namespace``.
  public let veth: VethPair

  /// Makes the namespace and the pair; names start with `prefix`.
  public init(prefix: String = "xbt") throws {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    namespace = NetworkNamespace(name: "\(prefix)-\(suffix)")
    veth = VethPair(
      name: "\(prefix)\(suffix)h", peer: "\(prefix)\(suffix)p", namespace: namespace,
      address: "198.18.0.1/30", peerAddress: "198.18.0.2/30")
    _ = try NetworkNamespace.create(namespace.name)
    do {
      try veth.create()
    } catch {
      namespace.delete()
      throw error
    }
  }

  /// Removes pins, the interface's files in the state directory (record,
  /// lock, temporaries: the names are this test's own), the veth pair and
  /// the namespace; safe to call twice. First records an issue for each
  /// file xdpbatch should have removed itself (``StateFileAudit``).
  public func tearDown() {
    DatapathProcessAudit.stopSurvivors(of: [veth.name])
    StateFileAudit.expectNothingLeft(of: [veth.name])
    let pins = PinDirectory(interface: veth.name)
    if let attachment = try? XDPAttachment.open(interface: veth.name) {
      try? attachment.detach()
    }
    unlink(pins.linkPath)
    unlink(pins.countersPath)
    unlink(pins.path + "/capture-original")
    pins.removeDirectories()
    Self.removeStateFiles(of: veth.name)
    veth.delete()
    namespace.delete()
  }

  /// The files of `interface` in the standard state directory
  /// (`/run/xdpbatch/IFACE.json`, `IFACE.lock`, …).
  public static func stateFiles(of interface: String) -> [String] {
    let path = StateDirectory().path
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return names.filter { $0.hasPrefix(interface + ".") }.map { path + "/" + $0 }
  }

  /// Removes the files of `interface` in the standard state directory.
  static func removeStateFiles(of interface: String) {
    for file in stateFiles(of: interface) { unlink(file) }
  }

  /// A UDP frame from the peer's address to the host side's, addressed
  /// to a MAC nobody owns: the host's stack drops it as "other host"
  /// after XDP, so it answers with nothing (no ARP, no ICMP) that the
  /// counters would see.
  public static let frame = FrameTemplate.udp(
    from: [2, 0, 0, 0, 0, 2], to: [2, 0, 0, 0, 0, 0x99], source: [198, 18, 0, 2],
    destination: [198, 18, 0, 1])
}
