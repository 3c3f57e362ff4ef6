/// The TCP and UDP checksums a veth's peer leaves to "offload".
///
/// A veth's peer hands a frame over with its L4 checksum not computed
/// (`CHECKSUM_PARTIAL`: the field holds the pseudo-header's sum), and the
/// receiving stack trusts that mark. AF_XDP carries the bytes without the
/// mark, so a frame the datapath passes to the host would fail the stack's
/// check (`TcpInCsumErrors`): on a veth the datapath computes the checksum
/// of each TCP and UDP frame it passes, which is what the stack would
/// have trusted. Frames from a wire carry complete checksums, which the
/// stack verifies as it does without the datapath.
///
/// IPv4 (unfragmented) and IPv6 (TCP or UDP right after the fixed header),
/// after an optional VLAN tag; anything else is left as it is.
enum OffloadedChecksum {
  /// Computes the L4 checksum of the `length`-byte Ethernet frame at `frame`.
  static func complete(_ frame: UnsafeMutableRawPointer, length: Int) {
    var offset = 12
    var type = bigEndian16(frame, offset)
    if type == 0x8100 || type == 0x88a8 {
      guard length >= 18 else { return }
      offset += 4
      type = bigEndian16(frame, offset)
    }
    offset += 2
    let protocolNumber: UInt8
    let transport: Int
    let payloadLength: Int
    // The pseudo-header's sum, in the byte order of the machine's loads.
    var sum: UInt64
    switch type {
    case 0x0800:
      guard length >= offset + 20 else { return }
      let headerLength = Int(frame.load(fromByteOffset: offset, as: UInt8.self) & 0x0f) * 4
      let total = Int(bigEndian16(frame, offset + 2))
      let fragment = bigEndian16(frame, offset + 6)
      guard headerLength >= 20, fragment & 0x3fff == 0, total >= headerLength,
        offset + total <= length
      else { return }
      protocolNumber = frame.load(fromByteOffset: offset + 9, as: UInt8.self)
      transport = offset + headerLength
      payloadLength = total - headerLength
      sum = words(frame + offset + 12, count: 8)
    case 0x86dd:
      guard length >= offset + 40 else { return }
      protocolNumber = frame.load(fromByteOffset: offset + 6, as: UInt8.self)
      transport = offset + 40
      payloadLength = Int(bigEndian16(frame, offset + 4))
      guard transport + payloadLength <= length else { return }
      sum = words(frame + offset + 8, count: 32)
    default:
      return
    }
    let field: Int
    switch protocolNumber {
    case 6: field = 16
    case 17:
      field = 6
      // IPv4 UDP without a checksum stays without one.
      if type == 0x0800, bigEndian16(frame, transport + 6) == 0 { return }
    default: return
    }
    guard payloadLength >= field + 2 else { return }
    sum &+= UInt64(UInt16(protocolNumber).bigEndian) &+ UInt64(UInt16(payloadLength).bigEndian)
    frame.storeBytes(of: 0, toByteOffset: transport + field, as: UInt16.self)
    sum &+= words(frame + transport, count: payloadLength)
    var folded = fold(sum)
    if folded == 0xffff && protocolNumber == 17 { folded = 0 }  // UDP sends 0 as 0xffff
    frame.storeBytes(of: ~folded, toByteOffset: transport + field, as: UInt16.self)
  }

  private static func bigEndian16(_ frame: UnsafeMutableRawPointer, _ offset: Int) -> UInt16 {
    UInt16(bigEndian: frame.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
  }

  /// The one's-complement sum of `count` bytes as 16-bit words in load
  /// order (an odd last byte padded with zero), not yet folded.
  private static func words(_ start: UnsafeMutableRawPointer, count: Int) -> UInt64 {
    var sum: UInt64 = 0
    var offset = 0
    while offset + 4 <= count {
      sum &+= UInt64(start.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
      offset += 4
    }
    if offset + 2 <= count {
      sum &+= UInt64(start.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
      offset += 2
    }
    if offset < count {
      var last: UInt16 = 0
      withUnsafeMutableBytes(of: &last) {
        $0[0] = start.load(fromByteOffset: offset, as: UInt8.self)
      }
      sum &+= UInt64(last)
    }
    return sum
  }

  /// Folds a sum of 16-bit words to 16 bits with end-around carries.
  private static func fold(_ value: UInt64) -> UInt16 {
    var sum = value
    while sum >> 16 != 0 { sum = (sum & 0xffff) &+ (sum >> 16) }
    return UInt16(sum)
  }
}
