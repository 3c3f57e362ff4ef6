/// One netlink attribute (`struct nlattr` and its payload): a type and
/// bytes, possibly holding nested attributes.
///
/// Integers are in host byte order, as netlink carries them.
public struct NetlinkAttribute: Hashable, Sendable {
  /// The attribute type with the nested and byte-order flags removed.
  public var type: UInt16
  /// The payload, without padding.
  public var payload: [UInt8]
  /// Whether the sender flagged the payload as nested attributes.
  public var isNested: Bool

  /// `NLA_F_NESTED`.
  static let nestedFlag: UInt16 = 0x8000
  /// `NLA_F_NET_BYTEORDER`.
  static let byteOrderFlag: UInt16 = 0x4000
  /// `sizeof(struct nlattr)`.
  static let headerSize = 4

  /// An attribute with a raw payload.
  public init(type: UInt16, payload: [UInt8], isNested: Bool = false) {
    self.type = type
    self.payload = payload
    self.isNested = isNested
  }

  /// A 32-bit integer attribute.
  public init(type: UInt16, uint32 value: UInt32) {
    self.init(type: type, payload: withUnsafeBytes(of: value) { Array($0) })
  }

  /// A signed 32-bit integer attribute.
  public init(type: UInt16, int32 value: Int32) {
    self.init(type: type, uint32: UInt32(bitPattern: value))
  }

  /// A NUL-terminated string attribute.
  public init(type: UInt16, string: String) {
    self.init(type: type, payload: Array(string.utf8) + [0])
  }

  /// An attribute holding `attributes`, flagged `NLA_F_NESTED`.
  public init(type: UInt16, nested attributes: [NetlinkAttribute]) {
    self.init(type: type, payload: NetlinkAttribute.encode(attributes), isNested: true)
  }

  /// The attribute's bytes, padded to four.
  public var encoded: [UInt8] {
    let length = UInt16(Self.headerSize + payload.count)
    let typeField = type | (isNested ? Self.nestedFlag : 0)
    var bytes =
      withUnsafeBytes(of: length) { Array($0) } + withUnsafeBytes(of: typeField) { Array($0) }
    bytes += payload
    bytes += [UInt8](repeating: 0, count: netlinkPadding(bytes.count))
    return bytes
  }

  /// Encodes a list of attributes back to back.
  public static func encode(_ attributes: [NetlinkAttribute]) -> [UInt8] {
    attributes.flatMap(\.encoded)
  }

  /// Parses back-to-back attributes; stops at the first malformed header.
  public static func decode(_ bytes: some Collection<UInt8>) -> [NetlinkAttribute] {
    let bytes = Array(bytes)
    var attributes: [NetlinkAttribute] = []
    var offset = 0
    while offset + headerSize <= bytes.count {
      let length = Int(bytes.hostInteger(at: offset, as: UInt16.self))
      let rawType = bytes.hostInteger(at: offset + 2, as: UInt16.self)
      guard length >= headerSize, offset + length <= bytes.count else { break }
      attributes.append(
        NetlinkAttribute(
          type: rawType & ~(nestedFlag | byteOrderFlag),
          payload: Array(bytes[offset + headerSize..<offset + length]),
          isNested: rawType & nestedFlag != 0))
      offset += length + netlinkPadding(length)
    }
    return attributes
  }

  /// The payload as nested attributes.
  public var nested: [NetlinkAttribute] { Self.decode(payload) }

  /// The payload as an 8-bit integer.
  public var uint8: UInt8? { payload.count >= 1 ? payload[0] : nil }
  /// The payload as a 16-bit integer.
  public var uint16: UInt16? {
    payload.count >= 2 ? payload.hostInteger(at: 0, as: UInt16.self) : nil
  }
  /// The payload as a 32-bit integer.
  public var uint32: UInt32? {
    payload.count >= 4 ? payload.hostInteger(at: 0, as: UInt32.self) : nil
  }
  /// The payload as a 64-bit integer (a 32-bit payload widens, as
  /// `nla_get_uint` allows).
  public var uint64: UInt64? {
    if payload.count >= 8 { return payload.hostInteger(at: 0, as: UInt64.self) }
    return uint32.map(UInt64.init)
  }
  /// The payload as a string, up to its NUL.
  public var string: String {
    String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
  }
}

extension Array where Element == NetlinkAttribute {
  /// The first attribute of `type`.
  public subscript(type type: UInt16) -> NetlinkAttribute? {
    first { $0.type == type }
  }
}

/// Bytes of padding after `length` to reach netlink's 4-byte alignment.
func netlinkPadding(_ length: Int) -> Int { (4 - length % 4) % 4 }

extension Array where Element == UInt8 {
  /// The host-order integer stored at `offset` (unaligned).
  func hostInteger<T: FixedWidthInteger>(at offset: Int, as type: T.Type) -> T {
    withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
  }

  /// Appends an integer in host byte order.
  mutating func appendHostInteger<T: FixedWidthInteger>(_ value: T) {
    Swift.withUnsafeBytes(of: value) { append(contentsOf: $0) }
  }
}
