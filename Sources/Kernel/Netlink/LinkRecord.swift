/// What `RTM_GETLINK` reports about one interface: the rtnetlink half of a
/// ``NetworkInterface``.
public struct LinkRecord: Hashable, Sendable {
  /// The interface index.
  public var index: UInt32
  /// The name (`IFLA_IFNAME`).
  public var name: String
  /// The hardware address (`IFLA_ADDRESS`), empty when there is none.
  public var hardwareAddress: [UInt8]
  /// The MTU (`IFLA_MTU`).
  public var mtu: UInt32
  /// RFC 2863 operational state (`IFLA_OPERSTATE`).
  public var operationalState: OperationalState
  /// Receive queues (`IFLA_NUM_RX_QUEUES`).
  public var receiveQueues: UInt32
  /// Transmit queues (`IFLA_NUM_TX_QUEUES`).
  public var transmitQueues: UInt32
  /// The link kind for virtual devices (`veth`, `bridge`), from `IFLA_LINKINFO`.
  public var kind: String?
  /// The attached XDP programs (`IFLA_XDP`).
  public var xdp: XDPAttachmentState

  // rtnetlink constants (linux/rtnetlink.h, linux/if_link.h).
  static let getLink: UInt16 = 18  // RTM_GETLINK
  static let newLink: UInt16 = 16  // RTM_NEWLINK
  static let interfaceHeaderSize = 16  // struct ifinfomsg
  private enum Attribute {
    static let address: UInt16 = 1
    static let name: UInt16 = 3
    static let mtu: UInt16 = 4
    static let operationalState: UInt16 = 16
    static let linkInfo: UInt16 = 18
    static let transmitQueues: UInt16 = 31
    static let receiveQueues: UInt16 = 32
    static let xdp: UInt16 = 43
    static let infoKind: UInt16 = 1  // IFLA_INFO_KIND inside IFLA_LINKINFO
  }

  /// Parses an `RTM_NEWLINK` message; `nil` when it is not one.
  public init?(_ message: NetlinkMessage) {
    guard message.type == Self.newLink, message.payload.count >= Self.interfaceHeaderSize else {
      return nil
    }
    let attributes = NetlinkAttribute.decode(message.payload.dropFirst(Self.interfaceHeaderSize))
    index = UInt32(bitPattern: message.payload.hostInteger(at: 4, as: Int32.self))
    name = attributes[type: Attribute.name]?.string ?? "if\(index)"
    hardwareAddress = attributes[type: Attribute.address]?.payload ?? []
    mtu = attributes[type: Attribute.mtu]?.uint32 ?? 0
    operationalState = OperationalState(
      rawValue: attributes[type: Attribute.operationalState]?.uint8 ?? 0)
    receiveQueues = attributes[type: Attribute.receiveQueues]?.uint32 ?? 0
    transmitQueues = attributes[type: Attribute.transmitQueues]?.uint32 ?? 0
    kind = attributes[type: Attribute.linkInfo]?.nested[type: Attribute.infoKind]?.string
    xdp = attributes[type: Attribute.xdp].map { XDPAttachmentState(netlink: $0.nested) } ?? .none
  }

  /// Dumps every interface of the calling thread's network namespace.
  public static func dump(over socket: NetlinkSocket) throws(SystemCallError) -> [LinkRecord] {
    var header = [UInt8](repeating: 0, count: interfaceHeaderSize)
    header[0] = 0  // AF_UNSPEC
    let replies = try socket.request(
      "list network interfaces (RTM_GETLINK)", type: getLink, flags: NetlinkMessage.dumpFlag,
      payload: header)
    return replies.compactMap(LinkRecord.init)
  }

  /// The link named `name` in the calling thread's namespace; nil when
  /// there is none.
  public static func named(_ name: String) throws(SystemCallError) -> LinkRecord? {
    try dump(over: NetlinkSocket(protocol: NetlinkSocket.route)).first { $0.name == name }
  }
}

/// RFC 2863 operational state, as `IFLA_OPERSTATE` numbers it.
public enum OperationalState: String, Codable, Sendable {
  // The names `ip link` prints, lower-cased.
  case unknown
  case notPresent = "notpresent"
  case down
  case lowerLayerDown = "lowerlayerdown"
  case testing,
    dormant, up

  /// The state for an `IF_OPER_*` value.
  public init(rawValue value: UInt8) {
    let states: [OperationalState] = [
      .unknown, .notPresent, .down, .lowerLayerDown, .testing, .dormant, .up,
    ]
    self = Int(value) < states.count ? states[Int(value)] : .unknown
  }
}
