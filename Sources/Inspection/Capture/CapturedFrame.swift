import BPF
import Glibc
import Rewriter

/// One frame copied by a capture program: its verdict, its length, when
/// the program decided, the receive queue, and its first bytes.
public struct CapturedFrame: Hashable, Sendable {
  /// The program's return value, as returned.
  public var returnValue: UInt32
  /// The frame's length at the verdict.
  public var length: UInt32
  /// Wall-clock time of the verdict, nanoseconds since the Unix epoch.
  public var timestampNanoseconds: UInt64
  /// The receive queue it arrived on.
  public var queue: UInt32
  /// The first bytes (at most the capture's snap length).
  public var bytes: [UInt8]

  /// The verdict (a return value above 4 counts as ABORTED).
  public var action: XDPAction { XDPAction(returnValue: UInt64(returnValue)) }

  /// Reads one ring-buffer record (``VerdictCapture``'s layout); `nil`
  /// when it is too short. `clockOffset` turns `CLOCK_MONOTONIC`
  /// nanoseconds into wall-clock ones.
  init?(record: UnsafeRawBufferPointer, clockOffset: Int64) {
    let header = Int(VerdictCapture.headerSize)
    guard record.count >= header else { return nil }
    func word(_ offset: Int) -> UInt32 {
      UInt32(littleEndian: record.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    returnValue = word(0)
    length = word(4)
    let monotonic = UInt64(littleEndian: record.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    timestampNanoseconds = UInt64(bitPattern: Int64(bitPattern: monotonic) &+ clockOffset)
    let captured = min(Int(word(16)), record.count - header)
    queue = word(20)
    bytes = Array(record[header..<header + captured])
  }

  /// Wall-clock minus monotonic time now, in nanoseconds.
  static func clockOffset() -> Int64 {
    var wall = timespec()
    var monotonic = timespec()
    clock_gettime(CLOCK_REALTIME, &wall)
    clock_gettime(CLOCK_MONOTONIC, &monotonic)
    return (Int64(wall.tv_sec) - Int64(monotonic.tv_sec)) * 1_000_000_000
      + (Int64(wall.tv_nsec) - Int64(monotonic.tv_nsec))
  }
}
