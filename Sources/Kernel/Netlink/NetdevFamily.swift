import BPF

/// The `netdev` generic-netlink family (kernel 6.3+): per-device XDP
/// features.
public struct NetdevFamily: Sendable {
  /// The family id the kernel assigned at boot.
  public var id: UInt16

  // genetlink controller (linux/genetlink.h).
  private static let controllerID: UInt16 = 0x10  // GENL_ID_CTRL
  private static let getFamilyCommand: UInt8 = 3  // CTRL_CMD_GETFAMILY
  private static let familyIDAttribute: UInt16 = 1  // CTRL_ATTR_FAMILY_ID
  private static let familyNameAttribute: UInt16 = 2  // CTRL_ATTR_FAMILY_NAME
  // netdev family (linux/netdev.h, not in this machine's headers).
  private static let deviceGetCommand: UInt8 = 1  // NETDEV_CMD_DEV_GET
  private static let interfaceIndexAttribute: UInt16 = 1  // NETDEV_A_DEV_IFINDEX
  private static let xdpFeaturesAttribute: UInt16 = 3  // NETDEV_A_DEV_XDP_FEATURES

  /// Resolves the family through `CTRL_CMD_GETFAMILY`; `nil` when the
  /// kernel has no `netdev` family (before 6.3).
  public static func resolve(over socket: NetlinkSocket) throws(SystemCallError) -> NetdevFamily? {
    let request =
      genericHeader(command: getFamilyCommand)
      + NetlinkAttribute.encode([NetlinkAttribute(type: familyNameAttribute, string: "netdev")])
    let replies: [NetlinkMessage]
    do {
      replies = try socket.request(
        "resolve the netdev generic-netlink family", type: controllerID, flags: 0,
        payload: request)
    } catch  where error.errno == .notFound {
      return nil
    }
    for reply in replies {
      let attributes = NetlinkAttribute.decode(reply.payload.dropFirst(4))
      if let id = attributes[type: familyIDAttribute]?.uint16 { return NetdevFamily(id: id) }
    }
    return nil
  }

  /// `NETDEV_CMD_DEV_GET` as a dump: the XDP feature bits of every device,
  /// by interface index.
  public func xdpFeatures(over socket: NetlinkSocket) throws(SystemCallError) -> [UInt32:
    XDPFeatures]
  {
    let replies = try socket.request(
      "read XDP features (netdev family)", type: id, flags: NetlinkMessage.dumpFlag,
      payload: Self.genericHeader(command: Self.deviceGetCommand))
    var features: [UInt32: XDPFeatures] = [:]
    for reply in replies {
      let attributes = NetlinkAttribute.decode(reply.payload.dropFirst(4))
      guard let index = attributes[type: Self.interfaceIndexAttribute]?.uint32,
        let bits = attributes[type: Self.xdpFeaturesAttribute]?.uint64
      else { continue }
      features[index] = XDPFeatures(rawValue: bits)
    }
    return features
  }

  /// `struct genlmsghdr`: command, version 1, reserved.
  private static func genericHeader(command: UInt8) -> [UInt8] { [command, 1, 0, 0] }
}

/// What a device can do with XDP (`NETDEV_A_DEV_XDP_FEATURES`).
public struct XDPFeatures: OptionSet, Hashable, Codable, Sendable {
  /// The `NETDEV_XDP_ACT_*` bits.
  public var rawValue: UInt64
  /// Wraps the bits.
  public init(rawValue: UInt64) { self.rawValue = rawValue }

  /// `XDP_PASS`/`DROP`/`ABORTED` in the driver.
  public static let basic = XDPFeatures(rawValue: 1)
  /// `XDP_TX` and `XDP_REDIRECT`.
  public static let redirect = XDPFeatures(rawValue: 2)
  /// Can be the target of a redirect (`ndo_xdp_xmit`).
  public static let ndoTransmit = XDPFeatures(rawValue: 4)
  /// AF_XDP zero-copy.
  public static let socketZeroCopy = XDPFeatures(rawValue: 8)
  /// Programs run on the NIC.
  public static let hardwareOffload = XDPFeatures(rawValue: 16)
  /// Multi-buffer (frags) frames on receive.
  public static let receiveScatterGather = XDPFeatures(rawValue: 32)
  /// Multi-buffer frames as a redirect target.
  public static let ndoTransmitScatterGather = XDPFeatures(rawValue: 64)
  /// Runs batch programs (`BPF_F_XDP_BATCH`) in native mode, once a NAPI
  /// poll: `NETDEV_XDP_ACT_BATCH` of the batch patches (`kernel/patches`),
  /// ``BPF/KernelBatchInterface/featureBit``.
  public static let batch = XDPFeatures(rawValue: KernelBatchInterface.featureBit)

  private static let names: [(XDPFeatures, String)] = [
    (.basic, "basic"), (.redirect, "redirect"), (.ndoTransmit, "ndo-xmit"),
    (.socketZeroCopy, "xsk-zerocopy"), (.hardwareOffload, "hw-offload"),
    (.receiveScatterGather, "rx-sg"), (.ndoTransmitScatterGather, "ndo-xmit-sg"),
    (.batch, "batch"),
  ]

  /// The names of the set bits, as `ynl` prints them (`basic`, `redirect`...).
  public var names: [String] {
    Self.names.filter { contains($0.0) }.map(\.1)
  }
}
