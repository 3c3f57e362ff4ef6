import Frames
import Testing

@Suite("Offline traffic")
struct FrameGeneratorTests {
  @Test func generatorIsSeeded() {
    var a = FrameGenerator(seed: 5)
    var b = FrameGenerator(seed: 5)
    var c = FrameGenerator(seed: 6)
    let first = a.frames(50)
    #expect(first == b.frames(50))
    #expect(first != c.frames(50))
  }

  /// FNV-1a over the frames and their lengths.
  static func digest(_ frames: [[UInt8]]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for frame in frames {
      for byte in frame + [UInt8(frame.count & 0xff), UInt8(frame.count >> 8)] {
        hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
      }
    }
    return hash
  }

  /// A seed gives the frames it gave before (`run --seed`, `check --seed`
  /// and the README's figures stay reproducible across releases): digests
  /// of the frames as the generator made them when it moved to Frames.
  @Test func seedsKeepTheirFrames() {
    var all = FrameGenerator(seed: 1)
    #expect(Self.digest(all.frames(500)) == 0xbf36_e9c0_0e1c_e2ec)
    var some = FrameGenerator(seed: 0x5a3d, kinds: [.ipv4UDP, .arp, .vlan])
    #expect(Self.digest(some.frames(200)) == 0x2332_ae10_f189_4bfb)
  }

  /// The traffic generator's UDP template, byte for byte: headers from the
  /// same builders as the generator's, IPv4 checksum filled, UDP checksum
  /// zero, a counting payload.
  @Test func udpTemplateBytes() {
    let frame = FrameTemplate.udp(
      from: [2, 0, 0, 0, 0, 1], to: [2, 0, 0, 0, 0, 2], source: [198, 18, 0, 1],
      destination: [198, 18, 0, 2], sourcePort: 4000, destinationPort: 9, payloadSize: 4)
    let expected: [UInt8] = [
      2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
      0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0xae, 0xa5, 198, 18, 0, 1, 198, 18, 0, 2,
      0x0f, 0xa0, 0, 9, 0, 12, 0, 0,
      0, 1, 2, 3,
    ]
    #expect(frame.bytes == expected)
    #expect(InternetChecksum.of(Array(frame.bytes[14..<34])) == 0)
  }

  @Test func framesHaveTheAdvertisedShapes() {
    var generator = FrameGenerator(seed: 9)
    for _ in 0..<200 {
      let v4 = generator.frame(.ipv4UDP)
      #expect((60...1514).contains(v4.count))
      #expect(v4[12] == 0x08 && v4[13] == 0x00)
      #expect(InternetChecksum.of(Array(v4[14..<34])) == 0)
      #expect(v4[26] == 198 && (v4[27] == 18 || v4[27] == 19))
      #expect(Int(v4[16]) << 8 | Int(v4[17]) == v4.count - 14)
      let v6 = generator.frame(.ipv6TCP)
      #expect(v6[12] == 0x86 && v6[13] == 0xdd)
      #expect(Array(v6[22..<28]) == [0x20, 0x01, 0x00, 0x02, 0x00, 0x00])
      #expect(Int(v6[18]) << 8 | Int(v6[19]) == v6.count - 54)
      let vlan = generator.frame(.vlan)
      #expect(vlan[12] == 0x81 && vlan[13] == 0x00)
      #expect((60...1514).contains(vlan.count))
      let arp = generator.frame(.arp)
      #expect(arp.count == 60 && arp[12] == 0x08 && arp[13] == 0x06)
      #expect(generator.frame(.runt).count < 60)
      let truncated = generator.frame(.truncated)
      let claimed =
        truncated[12] == 0x08
        ? 14 + (Int(truncated[16]) << 8 | Int(truncated[17]))
        : 54 + (Int(truncated[18]) << 8 | Int(truncated[19]))
      #expect(claimed > truncated.count)
    }
  }

  @Test func pcapRoundTripsInBothByteOrders() throws {
    var generator = FrameGenerator(seed: 1)
    let frames = generator.frames(20)
    for bigEndian in [false, true] {
      let file = try PcapFile(bytes: PcapFile.encode(frames, bigEndian: bigEndian))
      #expect(file.packets == frames)
      #expect(file.bigEndian == bigEndian)
    }
  }

  @Test func pcapHandWrittenBigEndianNanosecondFile() throws {
    let header: [UInt8] = [
      0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1,
    ]
    let record: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3, 0xaa, 0xbb, 0xcc]
    let file = try PcapFile(bytes: header + record)
    #expect(file.packets == [[0xaa, 0xbb, 0xcc]])
    #expect(file.bigEndian)
  }

  @Test func brokenPcapFilesAreNamed() {
    let good = PcapFile.encode([[1, 2, 3, 4]])
    #expect(throws: PcapError.tooShort(10)) { try PcapFile(bytes: Array(good.prefix(10))) }
    #expect(throws: PcapError.badMagic(0xdead_beef)) {
      try PcapFile(bytes: [0xef, 0xbe, 0xad, 0xde] + good.dropFirst(4))
    }
    #expect(throws: PcapError.pcapng(offset: 0, reason: "block length 262146 is invalid")) {
      try PcapFile(bytes: [0x0a, 0x0d, 0x0d, 0x0a] + good.dropFirst(4))
    }
    var raw = good
    raw[20] = 101
    #expect(throws: PcapError.unsupportedLinkType(101)) { try PcapFile(bytes: raw) }
    #expect(throws: PcapError.truncatedRecord(record: 0, offset: 24)) {
      try PcapFile(bytes: Array(good.dropLast(1)))
    }
    #expect(throws: PcapError.unreadable("/nonexistent.pcap")) {
      try PcapFile(path: "/nonexistent.pcap")
    }
  }
}
