import BPF
import Foundation
import Frames

extension FrameCapture {
  /// What a recording wrote.
  public struct Recording: Sendable {
    /// Frames written.
    public var frames = 0
    /// The frames written, by verdict.
    public var counts = ActionCounts()
  }

  /// Polls the capture and hands each frame to `write` as a record of
  /// `format` (its verdict, the return value when above 4, and the receive
  /// queue in the record's comment) until `limit` frames were written,
  /// `duration` seconds passed or `stopped()` says so (checked every
  /// 100 ms). The capture keeps running: ``stop()`` swaps the original
  /// program back.
  public func record(
    as format: CaptureFileFormat, limit: Int? = nil, duration: Double? = nil,
    stopped: () -> Bool, write: ([UInt8]) -> Void
  ) -> Recording {
    var recording = Recording()
    let deadline = duration.map { Date().addingTimeInterval($0) }
    while !stopped() {
      if let limit, recording.frames >= limit { break }
      if let deadline, Date() >= deadline { break }
      for frame in poll(timeoutMilliseconds: 100) {
        if let limit, recording.frames >= limit { break }
        write(
          format.record(
            .init(
              bytes: frame.bytes, originalLength: Int(frame.length),
              timestampNanoseconds: frame.timestampNanoseconds,
              comment: "verdict: XDP_\(frame.action.name.uppercased())"
                + (frame.returnValue > 4 ? " (returned \(frame.returnValue))" : "")
                + ", rx queue \(frame.queue)")))
        recording.counts.record(frame.action, bytes: Int(frame.length))
        recording.frames += 1
      }
    }
    return recording
  }
}
