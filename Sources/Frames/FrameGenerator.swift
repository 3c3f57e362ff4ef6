/// A seeded generator of Ethernet frames for offline runs: IPv4 and IPv6
/// carrying UDP, TCP or ICMP, ARP, 802.1Q-tagged frames, runts (shorter
/// than the 60-byte minimum) and truncated frames (headers promise more
/// bytes than the frame has). Sizes of whole frames are drawn from 60–1514
/// bytes; addresses come from the benchmarking ranges 198.18.0.0/15 and
/// 2001:2::/48. The same seed always gives the same frames.
public struct FrameGenerator: Sendable {
  /// The kinds of frame the generator makes.
  public enum Kind: CaseIterable, Sendable {
    case ipv4UDP, ipv4TCP, ipv4ICMP, ipv6UDP, ipv6TCP, ipv6ICMP, arp, vlan, runt, truncated
  }

  /// The kinds drawn from, uniformly.
  public var kinds: [Kind]
  private var state: UInt64

  /// Makes a generator; `kinds` must not be empty.
  public init(seed: UInt64, kinds: [Kind] = Kind.allCases) {
    self.state = seed
    self.kinds = kinds.isEmpty ? Kind.allCases : kinds
  }

  /// The next `count` frames.
  public mutating func frames(_ count: Int) -> [[UInt8]] { (0..<count).map { _ in next() } }

  /// The next frame, of a randomly drawn kind.
  public mutating func next() -> [UInt8] { frame(kinds[Int(random(below: UInt64(kinds.count)))]) }

  /// One frame of the given kind.
  public mutating func frame(_ kind: Kind) -> [UInt8] {
    switch kind {
    case .ipv4UDP: return ipv4(protocol: 17, size: size())
    case .ipv4TCP: return ipv4(protocol: 6, size: size())
    case .ipv4ICMP: return ipv4(protocol: 1, size: size())
    case .ipv6UDP: return ipv6(nextHeader: 17, size: size())
    case .ipv6TCP: return ipv6(nextHeader: 6, size: size())
    case .ipv6ICMP: return ipv6(nextHeader: 58, size: size())
    case .arp: return arp()
    case .vlan:
      let inner =
        random(below: 2) == 0
        ? ipv4(protocol: 17, size: size() - 4) : ipv6(nextHeader: 6, size: size() - 4)
      let tag: [UInt8] = [0x81, 0x00] + be16(UInt16(random(below: 4094) + 1))
      return Array(inner[0..<12]) + tag + Array(inner[12...])
    case .runt:
      return Array(ipv4(protocol: 17, size: 60).prefix(Int(14 + random(below: 46))))
    case .truncated:
      let whole =
        random(below: 2) == 0 ? ipv4(protocol: 6, size: size()) : ipv6(nextHeader: 17, size: size())
      let cut =
        whole[12] == 0x08 ? 14 + 20 + Int(random(below: 20)) : 14 + 40 + Int(random(below: 8))
      return Array(whole.prefix(min(cut, whole.count - 1)))
    }
  }

  // MARK: Frame builders

  private mutating func ipv4(protocol proto: UInt8, size: Int) -> [UInt8] {
    let payloadLength = max(size - 14 - 20, Self.transportHeaderLength(proto))
    // Drawn in this order, so a seed keeps giving the frames it gave.
    let identification = UInt16(random(below: 65536))
    let source = ipv4Address()
    let destination = ipv4Address()
    let header = FrameHeaders.ipv4(
      protocol: proto, source: source, destination: destination, payloadLength: payloadLength,
      identification: identification)
    let pseudo = source + destination + [0, proto] + be16(UInt16(payloadLength))
    let l4 = transport(proto, length: payloadLength, pseudoHeader: pseudo)
    return ethernet(type: 0x0800) + header + l4
  }

  private mutating func ipv6(nextHeader: UInt8, size: Int) -> [UInt8] {
    let payloadLength = max(size - 14 - 40, Self.transportHeaderLength(nextHeader))
    var header: [UInt8] = [0x60, 0, 0, 0] + be16(UInt16(payloadLength)) + [nextHeader, 64]
    let source = ipv6Address()
    let destination = ipv6Address()
    header += source + destination
    let pseudo =
      source + destination + [0, 0] + be16(UInt16(payloadLength)) + [0, 0, 0, nextHeader]
    let l4 = transport(nextHeader, length: payloadLength, pseudoHeader: pseudo)
    return ethernet(type: 0x86dd) + header + l4
  }

  /// The fixed header length of UDP (8), TCP (20) and ICMP (8).
  private static func transportHeaderLength(_ proto: UInt8) -> Int { proto == 6 ? 20 : 8 }

  /// A UDP, TCP or ICMP/ICMPv6 segment of exactly `length` bytes with a
  /// correct checksum.
  private mutating func transport(_ proto: UInt8, length: Int, pseudoHeader: [UInt8]) -> [UInt8] {
    var segment: [UInt8]
    let checksumOffset: Int
    switch proto {
    case 17:
      let sourcePort = port()
      segment = FrameHeaders.udp(sourcePort: sourcePort, destinationPort: port(), length: length)
      checksumOffset = 6
    case 6:
      segment =
        be16(port()) + be16(port()) + be32(UInt32(truncatingIfNeeded: random(below: 1 << 32)))
      segment += be32(0) + [0x50, 0x02] + be16(64240) + [0, 0, 0, 0]
      checksumOffset = 16
    default:
      segment = [proto == 58 ? 128 : 8, 0, 0, 0] + be16(UInt16(random(below: 65536))) + be16(1)
      checksumOffset = 2
    }
    while segment.count < length { segment.append(UInt8(truncatingIfNeeded: random(below: 256))) }
    segment = Array(segment.prefix(length))
    let covered = proto == 1 ? segment : pseudoHeader + segment
    var checksum = InternetChecksum.of(covered)
    if proto == 17 && checksum == 0 { checksum = 0xffff }
    segment[checksumOffset] = UInt8(checksum >> 8)
    segment[checksumOffset + 1] = UInt8(checksum & 0xff)
    return segment
  }

  private mutating func arp() -> [UInt8] {
    var frame = ethernet(type: 0x0806, broadcast: true)
    frame += [0, 1, 0x08, 0, 6, 4, 0, 1] + Array(frame[6..<12]) + ipv4Address()
    frame += [0, 0, 0, 0, 0, 0] + ipv4Address()
    return frame + [UInt8](repeating: 0, count: 60 - frame.count)
  }

  private mutating func ethernet(type: UInt16, broadcast: Bool = false) -> [UInt8] {
    let destination: [UInt8] = broadcast ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : mac()
    return FrameHeaders.ethernet(destination: destination, source: mac(), type: type)
  }

  private mutating func mac() -> [UInt8] {
    [0x02] + (0..<5).map { _ in UInt8(truncatingIfNeeded: random(below: 256)) }
  }

  /// 198.18.0.0/15.
  private mutating func ipv4Address() -> [UInt8] {
    [198, 18 + UInt8(random(below: 2)), UInt8(random(below: 256)), UInt8(random(below: 254) + 1)]
  }

  /// 2001:2::/48.
  private mutating func ipv6Address() -> [UInt8] {
    [0x20, 0x01, 0x00, 0x02, 0x00, 0x00]
      + (0..<10).map { _ in UInt8(truncatingIfNeeded: random(below: 256)) }
  }

  private mutating func port() -> UInt16 { UInt16(1024 + random(below: 64512)) }
  private mutating func size() -> Int { 60 + Int(random(below: 1514 - 60 + 1)) }

  /// splitmix64.
  private mutating func random(below bound: UInt64) -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return (z ^ (z >> 31)) % bound
  }
}

private func be16(_ value: UInt16) -> [UInt8] { FrameHeaders.be16(value) }
private func be32(_ value: UInt32) -> [UInt8] { FrameHeaders.be32(value) }
