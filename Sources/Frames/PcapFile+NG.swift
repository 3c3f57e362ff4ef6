extension PcapFile {
  /// The first word of a pcapng file (its section header block type).
  static let pcapngSectionHeader: UInt32 = 0x0a0d_0d0a

  /// The frames of a little-endian pcapng file of Ethernet interfaces:
  /// enhanced and simple packet blocks, in file order (what
  /// `xdpbatch capture` writes, so a capture can be run in the engine).
  static func pcapngPackets(_ bytes: [UInt8]) throws(PcapError) -> [[UInt8]] {
    func word(_ offset: Int) -> UInt32 {
      (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }
    var packets: [[UInt8]] = []
    var offset = 0
    while offset < bytes.count {
      guard offset + 12 <= bytes.count else {
        throw .pcapng(offset: offset, reason: "truncated block header")
      }
      let type = word(offset)
      let length = Int(word(offset + 4))
      guard length >= 12, length % 4 == 0, offset + length <= bytes.count else {
        throw .pcapng(offset: offset, reason: "block length \(length) is invalid")
      }
      switch type {
      case pcapngSectionHeader:
        guard word(offset + 8) == 0x1a2b_3c4d else {
          throw .pcapng(offset: offset, reason: "big-endian sections are not read")
        }
      case 1:  // interface description
        guard length >= 20 else { throw .pcapng(offset: offset, reason: "short interface block") }
        let linkType = UInt32(bytes[offset + 8]) | UInt32(bytes[offset + 9]) << 8
        guard linkType == ethernet else { throw .unsupportedLinkType(linkType) }
      case 6:  // enhanced packet
        let captured = Int(word(offset + 20))
        guard 28 + captured <= length else {
          throw .truncatedRecord(record: packets.count, offset: offset)
        }
        packets.append(Array(bytes[(offset + 28)..<(offset + 28 + captured)]))
      case 3:  // simple packet
        let captured = min(Int(word(offset + 8)), length - 16)
        packets.append(Array(bytes[(offset + 12)..<(offset + 12 + max(0, captured))]))
      default:
        break
      }
      offset += length
    }
    return packets
  }
}
