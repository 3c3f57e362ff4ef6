/// One netlink message (`struct nlmsghdr` and its payload).
public struct NetlinkMessage: Hashable, Sendable {
  /// The message type (`RTM_GETLINK`, a generic family id, `NLMSG_DONE`...).
  public var type: UInt16
  /// `NLM_F_*` flags.
  public var flags: UInt16
  /// The sequence number that pairs a reply with its request.
  public var sequence: UInt32
  /// The sender's port id (0 for the kernel).
  public var portID: UInt32
  /// The bytes after the header: a family header and attributes.
  public var payload: [UInt8]

  /// `sizeof(struct nlmsghdr)`.
  static let headerSize = 16

  /// `NLMSG_ERROR`: an error or acknowledgement.
  public static let errorType: UInt16 = 2
  /// `NLMSG_DONE`: the end of a dump.
  public static let doneType: UInt16 = 3
  /// `NLM_F_REQUEST`.
  public static let requestFlag: UInt16 = 0x1
  /// `NLM_F_MULTI`: one part of a multi-part reply.
  public static let multipartFlag: UInt16 = 0x2
  /// `NLM_F_ACK`.
  public static let acknowledgeFlag: UInt16 = 0x4
  /// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
  public static let dumpFlag: UInt16 = 0x300

  /// Describes a message.
  public init(
    type: UInt16, flags: UInt16, sequence: UInt32 = 0, portID: UInt32 = 0, payload: [UInt8]
  ) {
    self.type = type
    self.flags = flags
    self.sequence = sequence
    self.portID = portID
    self.payload = payload
  }

  /// The message's bytes, header first, padded to four.
  public var encoded: [UInt8] {
    var bytes: [UInt8] = []
    bytes.appendHostInteger(UInt32(Self.headerSize + payload.count))
    bytes.appendHostInteger(type)
    bytes.appendHostInteger(flags)
    bytes.appendHostInteger(sequence)
    bytes.appendHostInteger(portID)
    bytes += payload
    bytes += [UInt8](repeating: 0, count: netlinkPadding(bytes.count))
    return bytes
  }

  /// Splits a received datagram into its messages; stops at the first
  /// malformed header.
  public static func decode(_ bytes: [UInt8]) -> [NetlinkMessage] {
    var messages: [NetlinkMessage] = []
    var offset = 0
    while offset + headerSize <= bytes.count {
      let length = Int(bytes.hostInteger(at: offset, as: UInt32.self))
      guard length >= headerSize, offset + length <= bytes.count else { break }
      messages.append(
        NetlinkMessage(
          type: bytes.hostInteger(at: offset + 4, as: UInt16.self),
          flags: bytes.hostInteger(at: offset + 6, as: UInt16.self),
          sequence: bytes.hostInteger(at: offset + 8, as: UInt32.self),
          portID: bytes.hostInteger(at: offset + 12, as: UInt32.self),
          payload: Array(bytes[offset + headerSize..<offset + length])))
      offset += length + netlinkPadding(length)
    }
    return messages
  }

  /// For `NLMSG_ERROR`: the (positive) errno, or 0 for an acknowledgement.
  public var errorCode: Int32? {
    guard type == Self.errorType, payload.count >= 4 else { return nil }
    return -payload.hostInteger(at: 0, as: Int32.self)
  }
}
