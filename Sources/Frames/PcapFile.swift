import Foundation

/// A classic libpcap capture file (not pcapng) of Ethernet frames, read in
/// either byte order and with micro- or nanosecond timestamps.
public struct PcapFile: Sendable {
  /// `LINKTYPE_ETHERNET`.
  public static let ethernet: UInt32 = 1

  /// The captured bytes of each record, in file order.
  public var packets: [[UInt8]]
  /// Whether the file was written big-endian.
  public var bigEndian: Bool

  /// Reads a capture from memory.
  ///
  /// - Throws: ``PcapError`` naming the record and byte offset of the damage.
  public init(bytes: [UInt8]) throws(PcapError) {
    guard bytes.count >= 24 else { throw .tooShort(bytes.count) }
    let magicLittle = Self.word(bytes, 0, bigEndian: false)
    if magicLittle == Self.pcapngSectionHeader {
      packets = try Self.pcapngPackets(bytes)
      bigEndian = false
      return
    }
    switch magicLittle {
    case 0xa1b2_c3d4, 0xa1b2_3c4d: bigEndian = false
    case 0xd4c3_b2a1, 0x4d3c_b2a1: bigEndian = true
    default: throw .badMagic(magicLittle)
    }
    let linkType = Self.word(bytes, 20, bigEndian: bigEndian) & 0x0fff_ffff
    guard linkType == Self.ethernet else { throw .unsupportedLinkType(linkType) }
    packets = []
    var offset = 24
    while offset < bytes.count {
      guard offset + 16 <= bytes.count else {
        throw .truncatedRecord(record: packets.count, offset: offset)
      }
      let length = Int(Self.word(bytes, offset + 8, bigEndian: bigEndian))
      guard length <= 0x40000 else {
        throw .recordTooLarge(record: packets.count, length: length)
      }
      guard offset + 16 + length <= bytes.count else {
        throw .truncatedRecord(record: packets.count, offset: offset)
      }
      packets.append(Array(bytes[(offset + 16)..<(offset + 16 + length)]))
      offset += 16 + length
    }
  }

  /// Reads a capture file.
  public init(path: String) throws(PcapError) {
    guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path) }
    try self.init(bytes: [UInt8](data))
  }

  /// Encodes frames as a capture (microsecond timestamps, all zero).
  public static func encode(_ packets: [[UInt8]], bigEndian: Bool = false) -> [UInt8] {
    func word(_ value: UInt32) -> [UInt8] {
      withUnsafeBytes(of: bigEndian ? value.bigEndian : value.littleEndian) { Array($0) }
    }
    func half(_ value: UInt16) -> [UInt8] {
      withUnsafeBytes(of: bigEndian ? value.bigEndian : value.littleEndian) { Array($0) }
    }
    var bytes = word(0xa1b2_c3d4) + half(2) + half(4) + word(0) + word(0) + word(0x40000)
    bytes += word(ethernet)
    for packet in packets {
      bytes += word(0) + word(0) + word(UInt32(packet.count)) + word(UInt32(packet.count)) + packet
    }
    return bytes
  }

  private static func word(_ bytes: [UInt8], _ offset: Int, bigEndian: Bool) -> UInt32 {
    let value = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    return bigEndian ? value.byteSwapped : value
  }
}

/// Why a capture file could not be read.
public enum PcapError: Error, Equatable, Sendable {
  /// The file could not be opened.
  case unreadable(String)
  /// Fewer bytes than the 24-byte global header.
  case tooShort(Int)
  /// The first word is no pcap magic (pcapng and others are not read).
  case badMagic(UInt32)
  /// The link type is not Ethernet.
  case unsupportedLinkType(UInt32)
  /// A record header or its data runs past the end of the file.
  case truncatedRecord(record: Int, offset: Int)
  /// A record claims more than 256 KiB.
  case recordTooLarge(record: Int, length: Int)
  /// A pcapng block that cannot be read.
  case pcapng(offset: Int, reason: String)
}

extension PcapError: CustomStringConvertible {
  /// A one-line message.
  public var description: String {
    switch self {
    case .pcapng(let offset, let reason): "pcapng: block at byte \(offset): \(reason)"
    case .unreadable(let path): "\(path): cannot read file"
    case .tooShort(let count): "pcap: \(count) bytes is shorter than the 24-byte file header"
    case .badMagic(let magic):
      "pcap: bad magic 0x\(String(magic, radix: 16)) (neither pcap nor pcapng)"
    case .unsupportedLinkType(let type): "pcap: link type \(type) is not Ethernet (1)"
    case .truncatedRecord(let record, let offset):
      "pcap: record \(record) at byte \(offset) is truncated"
    case .recordTooLarge(let record, let length):
      "pcap: record \(record) claims \(length) bytes (limit 262144)"
    }
  }
}
