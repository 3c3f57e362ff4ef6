import Glibc

/// Every network interface of the calling thread's namespace, as one
/// snapshot: what `xdpbatch list` and the console show.
public struct InterfaceInventory: Hashable, Codable, Sendable {
  /// The interfaces in index order.
  public var interfaces: [NetworkInterface]
  /// Whether the kernel reported XDP features (it has the `netdev`
  /// generic-netlink family, Linux 6.3+).
  public var reportsXDPFeatures: Bool

  /// Describes a snapshot.
  public init(interfaces: [NetworkInterface], reportsXDPFeatures: Bool) {
    self.interfaces = interfaces
    self.reportsXDPFeatures = reportsXDPFeatures
  }

  /// Queries the kernel: rtnetlink for links and attached programs, the
  /// `netdev` family for XDP features, ethtool for drivers, and the BPF
  /// syscall for the attached programs' names.
  public static func query() throws(SystemCallError) -> InterfaceInventory {
    let links = try LinkRecord.dump(over: NetlinkSocket(protocol: NetlinkSocket.route))
    let generic = try NetlinkSocket(protocol: NetlinkSocket.generic)
    let features = try NetdevFamily.resolve(over: generic).map { family throws(SystemCallError) in
      try family.xdpFeatures(over: generic)
    }
    let ethtool = try KernelDescriptor(
      owning: check("open a socket for ethtool") {
        socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
      })
    let interfaces = links.sorted { $0.index < $1.index }.map { link in
      NetworkInterface(
        name: link.name, index: link.index, macAddress: link.hardwareAddress.macAddressText,
        mtu: link.mtu, state: link.operationalState, kind: link.kind,
        driver: DriverInfo.query(interface: link.name, socket: ethtool.rawValue),
        receiveQueues: link.receiveQueues, transmitQueues: link.transmitQueues,
        xdpFeatures: features.map { $0[link.index] ?? [] },
        programs: link.xdp.programs.map { attached in
          AttachedProgram(
            mode: attached.mode, id: attached.id,
            name: try? LoadedProgram.open(id: attached.id).info().name)
        })
    }
    return InterfaceInventory(interfaces: interfaces, reportsXDPFeatures: features != nil)
  }

  /// The interface named `name`.
  public subscript(name name: String) -> NetworkInterface? {
    interfaces.first { $0.name == name }
  }
}
