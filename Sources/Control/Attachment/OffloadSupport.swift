import BPF

/// Whether ``AttachMode/offload`` can work on an interface, and why not.
///
/// Offload is offered only where it can work: the device's driver must
/// report `hw-offload` among its XDP features (`netdev` netlink family).
/// Even then xdpbatch refuses, because the instrumented program counts
/// into the interface's pinned counters map in host memory, which an
/// offloaded program cannot reach.
enum OffloadSupport {
  /// Why `interface` (index `index`) cannot run xdpbatch's program
  /// offloaded; the message names the interface and what to use instead.
  static func refusal(interface: String, index: UInt32) -> String {
    let instead = "use --mode native (drv) or generic (skb). Nothing was changed."
    let features: XDPFeatures?
    do throws(SystemCallError) {
      let socket = try NetlinkSocket(protocol: NetlinkSocket.generic)
      features = try NetdevFamily.resolve(over: socket)?.xdpFeatures(over: socket)[index]
    } catch {
      return
        "offload not available on \(interface): its XDP features cannot be read (\(error)); \(instead)"
    }
    guard let features else {
      return
        "offload not available on \(interface): the kernel does not report XDP features (no netdev netlink family); \(instead)"
    }
    guard features.contains(.hardwareOffload) else {
      let names = features.names.isEmpty ? "none" : features.names.joined(separator: ", ")
      return
        "offload not available on \(interface): its driver does not run XDP programs on the NIC (XDP features: \(names)); \(instead)"
    }
    return
      "offload not supported by xdpbatch on \(interface): the offloaded program could not reach its action counters, which live in host memory; \(instead)"
  }
}
