import Frames
import Testing

/// Capture files as `xdpbatch capture` and `run -w` write them read back
/// frame for frame (tcpdump reading them is checked on a veth pair).
struct CaptureFileFormatTests {
  static let frames: [[UInt8]] = [[1, 2, 3], Array(repeating: 0xab, count: 61), [9]]

  @Test(arguments: CaptureFileFormat.Layout.allCases)
  func writtenFramesReadBack(_ layout: CaptureFileFormat.Layout) throws {
    let format = CaptureFileFormat(layout: layout, snapLength: 128)
    var bytes = format.header()
    for (index, frame) in Self.frames.enumerated() {
      bytes += format.record(
        .init(
          bytes: frame, originalLength: frame.count + 10,
          timestampNanoseconds: 1_700_000_000_123_456_789 + UInt64(index),
          comment: "verdict: XDP_PASS"))
    }
    let file = try PcapFile(bytes: bytes)
    #expect(file.packets == Self.frames)
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(text.contains("verdict: XDP_PASS") == (layout == .pcapng))
    if layout == .pcapng {
      #expect(bytes.count % 4 == 0, "pcapng blocks are 32-bit aligned")
    }
  }
}
