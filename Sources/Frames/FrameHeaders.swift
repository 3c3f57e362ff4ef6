/// The headers every frame this target builds is made of, in network byte
/// order: the seeded generator (``FrameGenerator``) and the traffic
/// templates (``FrameTemplate``) both write them here, so a frame a kernel
/// accepts from one is a frame it accepts from the other.
enum FrameHeaders {
  /// An Ethernet II header.
  static func ethernet(destination: [UInt8], source: [UInt8], type: UInt16) -> [UInt8] {
    destination + source + be16(type)
  }

  /// A 20-byte IPv4 header without options: don't-fragment set, TTL 64,
  /// header checksum filled in.
  static func ipv4(
    protocol proto: UInt8, source: [UInt8], destination: [UInt8], payloadLength: Int,
    identification: UInt16 = 0
  ) -> [UInt8] {
    var header: [UInt8] = [0x45, 0] + be16(UInt16(20 + payloadLength)) + be16(identification)
    header += [0x40, 0, 64, proto, 0, 0] + source + destination
    let checksum = InternetChecksum.of(header)
    header[10] = UInt8(checksum >> 8)
    header[11] = UInt8(checksum & 0xff)
    return header
  }

  /// An 8-byte UDP header for a datagram of `length` bytes (header
  /// included), its checksum zero ("none", which IPv4 allows).
  static func udp(sourcePort: UInt16, destinationPort: UInt16, length: Int) -> [UInt8] {
    be16(sourcePort) + be16(destinationPort) + be16(UInt16(length)) + [0, 0]
  }

  static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }

  static func be32(_ value: UInt32) -> [UInt8] {
    be16(UInt16(value >> 16)) + be16(UInt16(value & 0xffff))
  }
}
