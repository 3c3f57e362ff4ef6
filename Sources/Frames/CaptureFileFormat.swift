/// Writes captured frames as pcapng (the verdict in each packet's
/// comment, which Wireshark and `tshark` show) or classic pcap
/// (nanosecond timestamps, no comments): a header, then one block a
/// frame, so a capture can be written as it arrives.
public struct CaptureFileFormat: Sendable {
  /// The file layout.
  public enum Layout: String, Sendable, CaseIterable {
    /// pcapng: section header, one Ethernet interface, enhanced packet blocks.
    case pcapng
    /// Classic libpcap, nanosecond variant (magic `0xa1b23c4d`).
    case pcap
  }

  /// One frame to write.
  public struct Record: Sendable {
    /// The captured bytes.
    public var bytes: [UInt8]
    /// The frame's full length (at least `bytes.count`).
    public var originalLength: Int
    /// Nanoseconds since the Unix epoch.
    public var timestampNanoseconds: UInt64
    /// A comment (pcapng only), such as the verdict.
    public var comment: String?

    /// Describes a frame.
    public init(
      bytes: [UInt8], originalLength: Int? = nil, timestampNanoseconds: UInt64 = 0,
      comment: String? = nil
    ) {
      self.bytes = bytes
      self.originalLength = max(originalLength ?? bytes.count, bytes.count)
      self.timestampNanoseconds = timestampNanoseconds
      self.comment = comment
    }
  }

  /// The layout.
  public var layout: Layout
  /// The largest frame part kept (the interface's snap length).
  public var snapLength: UInt32

  /// A writer of `layout` files.
  public init(layout: Layout, snapLength: UInt32 = 0x40000) {
    self.layout = layout
    self.snapLength = snapLength
  }

  /// The bytes that open the file.
  public func header() -> [UInt8] {
    switch layout {
    case .pcap:
      return Self.u32(0xa1b2_3c4d) + Self.u16(2) + Self.u16(4) + Self.u32(0) + Self.u32(0)
        + Self.u32(snapLength) + Self.u32(PcapFile.ethernet)
    case .pcapng:
      let section =
        Self.u32(0x1a2b_3c4d) + Self.u16(1) + Self.u16(0) + Self.u64(.max) + Self.u32(0)
      // if_tsresol (option 9) = 9: nanosecond timestamps.
      let interface =
        Self.u16(UInt16(PcapFile.ethernet)) + Self.u16(0) + Self.u32(snapLength)
        + Self.option(9, [9]) + Self.u32(0)
      return Self.block(0x0a0d_0d0a, section) + Self.block(1, interface)
    }
  }

  /// The bytes of one frame.
  public func record(_ record: Record) -> [UInt8] {
    let seconds = record.timestampNanoseconds / 1_000_000_000
    let nanoseconds = record.timestampNanoseconds % 1_000_000_000
    switch layout {
    case .pcap:
      return Self.u32(UInt32(truncatingIfNeeded: seconds)) + Self.u32(UInt32(nanoseconds))
        + Self.u32(UInt32(record.bytes.count)) + Self.u32(UInt32(record.originalLength))
        + record.bytes
    case .pcapng:
      var body =
        Self.u32(0) + Self.u32(UInt32(truncatingIfNeeded: record.timestampNanoseconds >> 32))
        + Self.u32(UInt32(truncatingIfNeeded: record.timestampNanoseconds))
        + Self.u32(UInt32(record.bytes.count)) + Self.u32(UInt32(record.originalLength))
        + Self.padded(record.bytes)
      if let comment = record.comment {
        body += Self.option(1, Array(comment.utf8)) + Self.u32(0)
      }
      return Self.block(6, body)
    }
  }

  static func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
    let length = UInt32(12 + body.count)
    return u32(type) + u32(length) + body + u32(length)
  }

  static func option(_ code: UInt16, _ value: [UInt8]) -> [UInt8] {
    u16(code) + u16(UInt16(value.count)) + padded(value)
  }

  static func padded(_ bytes: [UInt8]) -> [UInt8] {
    bytes + [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
  }

  static func u16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
  static func u32(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
  }
  static func u64(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
  }
}
