/// Changes to an existing link through rtnetlink (`RTM_NEWLINK` on its
/// index, as `ip link set` sends): its hardware address, MTU, ARP, IPv6
/// address generation and whether it is up.
public struct LinkSettings: Hashable, Sendable {
  /// The hardware address (`IFLA_ADDRESS`), unchanged when nil.
  public var hardwareAddress: [UInt8]?
  /// The MTU (`IFLA_MTU`), unchanged when nil.
  public var mtu: UInt32?
  /// `IFF_NOARP` set (true) or cleared (false); unchanged when nil.
  public var noARP: Bool?
  /// No IPv6 link-local address (`addrgenmode none`): the link then sends
  /// no neighbour discovery, router solicitation or MLD of its own.
  public var withoutIPv6Addresses = false
  /// `IFF_UP` set (true) or cleared (false); unchanged when nil.
  public var up: Bool?

  /// Describes a change.
  public init(
    hardwareAddress: [UInt8]? = nil, mtu: UInt32? = nil, noARP: Bool? = nil,
    withoutIPv6Addresses: Bool = false, up: Bool? = nil
  ) {
    self.hardwareAddress = hardwareAddress
    self.mtu = mtu
    self.noARP = noARP
    self.withoutIPv6Addresses = withoutIPv6Addresses
    self.up = up
  }

  // linux/if.h, linux/if_link.h, linux/if_addr.h.
  private static let upFlag: UInt32 = 0x1  // IFF_UP
  private static let noARPFlag: UInt32 = 0x80  // IFF_NOARP
  private enum Attribute {
    static let address: UInt16 = 1  // IFLA_ADDRESS
    static let mtu: UInt16 = 4  // IFLA_MTU
    static let addressFamilies: UInt16 = 26  // IFLA_AF_SPEC
    static let inet6: UInt16 = 10  // AF_INET6 inside IFLA_AF_SPEC
    static let addressGenerationMode: UInt16 = 8  // IFLA_INET6_ADDR_GEN_MODE
  }
  private static let addressGenerationNone: UInt8 = 1  // IN6_ADDR_GEN_MODE_NONE

  /// Applies the change to the link with `index` in the calling thread's
  /// namespace; `name` names it in errors.
  public func apply(toInterface index: UInt32, name: String) throws(SystemCallError) {
    var flags: UInt32 = 0
    var change: UInt32 = 0
    if let noARP {
      change |= Self.noARPFlag
      if noARP { flags |= Self.noARPFlag }
    }
    if let up {
      change |= Self.upFlag
      if up { flags |= Self.upFlag }
    }
    var header = [UInt8](repeating: 0, count: LinkRecord.interfaceHeaderSize)
    header.replaceSubrange(4..<8, with: withUnsafeBytes(of: Int32(bitPattern: index)) { Array($0) })
    header.replaceSubrange(8..<12, with: withUnsafeBytes(of: flags) { Array($0) })
    header.replaceSubrange(12..<16, with: withUnsafeBytes(of: change) { Array($0) })
    var attributes: [NetlinkAttribute] = []
    if let hardwareAddress {
      attributes.append(NetlinkAttribute(type: Attribute.address, payload: hardwareAddress))
    }
    if let mtu { attributes.append(NetlinkAttribute(type: Attribute.mtu, uint32: mtu)) }
    if withoutIPv6Addresses {
      attributes.append(
        NetlinkAttribute(
          type: Attribute.addressFamilies,
          nested: [
            NetlinkAttribute(
              type: Attribute.inet6,
              nested: [
                NetlinkAttribute(
                  type: Attribute.addressGenerationMode, payload: [Self.addressGenerationNone])
              ])
          ]))
    }
    let socket = try NetlinkSocket(protocol: NetlinkSocket.route)
    _ = try socket.request(
      "set up \(name) (RTM_NEWLINK)", type: LinkRecord.newLink,
      flags: NetlinkMessage.acknowledgeFlag,
      payload: header + NetlinkAttribute.encode(attributes))
  }
}
