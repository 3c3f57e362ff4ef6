import Deployment
import Kernel
import BPF

/// An Ethernet + IPv4 + UDP frame for the traffic generator to send.
public struct FrameTemplate: Hashable, Sendable {
  /// The frame's bytes, checksums filled in.
  public var bytes: [UInt8]

  /// Wraps ready-made frame bytes.
  public init(bytes: [UInt8]) {
    self.bytes = bytes
  }

  /// A UDP datagram from `source` to `destination` (IPv4 addresses as four
  /// octets) between the given MAC addresses, padded with `payloadSize`
  /// bytes of a counting pattern.
  public static func udp(
    from sourceMAC: [UInt8], to destinationMAC: [UInt8], source: [UInt8], destination: [UInt8],
    sourcePort: UInt16 = 9, destinationPort: UInt16 = 9, payloadSize: Int = 18
  ) -> FrameTemplate {
    let payload = (0..<payloadSize).map { UInt8(truncatingIfNeeded: $0) }
    let udpLength = 8 + payload.count
    let ipLength = 20 + udpLength
    var ip: [UInt8] = [
      0x45, 0, UInt8(ipLength >> 8), UInt8(ipLength & 0xff), 0, 0, 0x40, 0, 64, 17, 0, 0,
    ]
    ip += source + destination
    let checksum = InternetChecksum.of(ip)
    ip[10] = UInt8(checksum >> 8)
    ip[11] = UInt8(checksum & 0xff)
    let udp: [UInt8] = [
      UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff), UInt8(destinationPort >> 8),
      UInt8(destinationPort & 0xff), UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0,
    ]
    return FrameTemplate(bytes: destinationMAC + sourceMAC + [0x08, 0x00] + ip + udp + payload)
  }
}

extension String {
  /// The six bytes of a MAC address written `aa:bb:cc:dd:ee:ff`; `nil` if
  /// it is not one.
  public var macAddressBytes: [UInt8]? {
    let bytes = split(separator: ":").compactMap { UInt8($0, radix: 16) }
    return bytes.count == 6 ? bytes : nil
  }
}
