/// A frame for the traffic generator to send, built from the same headers as
/// ``FrameGenerator``'s.
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
    let ip = FrameHeaders.ipv4(
      protocol: 17, source: source, destination: destination, payloadLength: udpLength)
    let udp = FrameHeaders.udp(
      sourcePort: sourcePort, destinationPort: destinationPort, length: udpLength)
    let ethernet = FrameHeaders.ethernet(
      destination: destinationMAC, source: sourceMAC, type: 0x0800)
    return FrameTemplate(bytes: ethernet + ip + udp + payload)
  }
}
