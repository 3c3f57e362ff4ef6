/// The Internet checksum of RFC 1071, as IPv4, UDP, TCP and ICMP headers
/// carry it: the frames this target builds are frames a kernel must accept.
public enum InternetChecksum {
  /// The one's-complement of the one's-complement sum of `bytes` read as
  /// big-endian 16-bit words (an odd tail padded with a zero byte).
  public static func of(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var index = 0
    while index < bytes.count {
      let high = UInt32(bytes[index]) << 8
      let low = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
      sum += high | low
      index += 2
    }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
  }
}
