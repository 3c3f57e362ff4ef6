import Datapath
import Deployment
import Foundation
import Glibc
import Kernel

/// The datapath bench's veth pair: a namespace and names with a random
/// suffix (other benches and tests run at the same time), addresses in
/// 198.18.0.0/15, a state directory of its own; removed with everything
/// attached and pinned by ``tearDown()``.
struct BenchNetwork {
  let namespace: NetworkNamespace
  let veth: VethPair
  let state: StateDirectory

  init() throws(DatapathBenchError) {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    namespace = NetworkNamespace(name: "xbb-\(suffix)")
    veth = VethPair(
      name: "xbb\(suffix)h", peer: "xbb\(suffix)p", namespace: namespace,
      address: "198.18.0.1/30", peerAddress: "198.18.0.2/30")
    state = StateDirectory(path: NSTemporaryDirectory() + "xdpbatch-bench-\(suffix)")
    do {
      _ = try NetworkNamespace.create(namespace.name)
      try veth.create()
      try state.create()
    } catch {
      tearDown()
      throw .step("make the veth pair", "\(error)")
    }
  }

  /// Removes the attachment, the datapath's pins, the pair, the namespace
  /// and the state directory.
  func tearDown() {
    if let attachment = try? XDPAttachment.open(interface: veth.name) {
      try? attachment.detach()
    }
    SoftwareDatapath.removeLeftovers(interface: veth.name, state: state)
    let pins = PinDirectory(interface: veth.name)
    unlink(pins.linkPath)
    unlink(pins.countersPath)
    pins.removeDirectories()
    veth.delete()
    namespace.delete()
    try? FileManager.default.removeItem(atPath: state.path)
  }

  /// A counter of `interface` in the root namespace (`rx_packets`, ...).
  static func statistic(_ interface: String, _ name: String) -> UInt64 {
    let path = "/sys/class/net/\(interface)/statistics/\(name)"
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "0"
    return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
  }
}
