import Datapath
import Deployment
import Foundation
import Glibc
import Kernel

/// The names of the datapath bench's veth pair, its namespace and its
/// state directory (`"network"` in the section's JSON): a random suffix,
/// as other benches and tests run at the same time, so a run can tell its
/// own pair from theirs.
public struct DatapathBenchNetwork: Encodable, Sendable, Equatable {
  /// The host end, where the datapath attaches.
  public var interface: String
  /// The far end, in ``namespace``, where the generator sends from.
  public var peer: String
  /// The namespace holding ``peer``.
  public var namespace: String
  /// The state directory the bench's datapath processes use.
  public var stateDirectory: String

  /// Names with a new random suffix.
  public static func random() -> DatapathBenchNetwork {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    return DatapathBenchNetwork(
      interface: "xbb\(suffix)h", peer: "xbb\(suffix)p", namespace: "xbb-\(suffix)",
      stateDirectory: NSTemporaryDirectory() + "xdpbatch-bench-\(suffix)")
  }
}

/// The datapath bench's veth pair, named by a ``DatapathBenchNetwork``:
/// addresses in 198.18.0.0/15, a state directory of its own; removed with
/// everything attached and pinned by ``tearDown()``.
struct BenchNetwork {
  let namespace: NetworkNamespace
  let veth: VethPair
  let state: StateDirectory

  init(_ names: DatapathBenchNetwork) throws(DatapathBenchError) {
    namespace = NetworkNamespace(name: names.namespace)
    veth = VethPair(
      name: names.interface, peer: names.peer, namespace: namespace,
      address: "198.18.0.1/30", peerAddress: "198.18.0.2/30")
    state = StateDirectory(path: names.stateDirectory)
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
