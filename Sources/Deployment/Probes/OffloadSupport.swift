import BPF
import Kernel

/// Whether ``AttachMode/offload`` can work on an interface, and why not.
///
/// Offload is offered only where it can work: the device's driver must
/// report `hw-offload` among its XDP features (`netdev` netlink family).
/// Even then xdpbatch refuses, because the instrumented program counts
/// into the interface's pinned counters map in host memory, which an
/// offloaded program cannot reach.
enum OffloadSupport {
  /// Why `interface` (index `index`) cannot run xdpbatch's program offloaded.
  static func refusal(interface: String, index: UInt32) -> OffloadRefusal {
    let features: XDPFeatures?
    do throws(SystemCallError) {
      let socket = try NetlinkSocket(protocol: NetlinkSocket.generic)
      features = try NetdevFamily.resolve(over: socket)?.xdpFeatures(over: socket)[index]
    } catch {
      return .featuresUnreadable(interface: interface, error)
    }
    guard let features else { return .noFeatures(interface: interface) }
    guard features.contains(.hardwareOffload) else {
      return .noHardwareOffload(interface: interface, features: features.names)
    }
    return .countersInHostMemory(interface: interface)
  }
}

/// Why xdpbatch's program cannot be offloaded to an interface. Nothing
/// was changed.
public enum OffloadRefusal: Sendable, CustomStringConvertible {
  /// The device's XDP features could not be read.
  case featuresUnreadable(interface: String, SystemCallError)
  /// The kernel reports no XDP features (no netdev netlink family).
  case noFeatures(interface: String)
  /// The driver does not run XDP programs on the NIC.
  case noHardwareOffload(interface: String, features: [String])
  /// The offloaded program could not reach its counters in host memory.
  case countersInHostMemory(interface: String)

  /// What stands in the way.
  public var description: String {
    switch self {
    case .featuresUnreadable(let interface, let error):
      "offload not available on \(interface): its XDP features cannot be read (\(error))"
    case .noFeatures(let interface):
      "offload not available on \(interface): the kernel does not report XDP features (no netdev netlink family)"
    case .noHardwareOffload(let interface, let features):
      "offload not available on \(interface): its driver does not run XDP programs on the NIC (XDP features: \(features.isEmpty ? "none" : features.joined(separator: ", ")))"
    case .countersInHostMemory(let interface):
      "offload not supported by xdpbatch on \(interface): the offloaded program could not reach its action counters, which live in host memory"
    }
  }
}
