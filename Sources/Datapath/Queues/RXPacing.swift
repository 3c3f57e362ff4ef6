import Engine
import Glibc

/// When a loop over a queue takes an RX batch: by default as soon as a
/// frame is on the ring (what an idle interface gives: one to three frames
/// a batch on veth), or, paced, as a loaded NIC's driver does (NAPI's
/// budget, interrupt coalescing's `rx-frames` and `rx-usecs`): once
/// ``frames`` wait on the ring, taking at most that many, or once the
/// first seen has waited ``maximumDelay``.
///
/// The bench paces the software datapath and the bare AF_XDP loop alike
/// (both take their batches through ``QueueSocket/peekReceived(at:)``),
/// so the same traffic gives both the same frames per RX batch. The wait
/// between looks at the ring is a sleep, outside the span either side
/// times (frames found on the ring to their release).
public struct RXPacing: Sendable, Hashable, Codable {
  /// Frames an RX batch waits for and takes at most (1 to 64).
  public var frames: Int
  /// Nanoseconds the first frame seen waits at most for the others.
  public var maximumDelay: UInt64
  /// Nanoseconds between two looks at a ring holding fewer than ``frames``.
  public var interval: UInt64

  /// `frames` a batch (clamped to 1...64); by default a frame waits at
  /// most 1 ms, looked at every 10 µs.
  public init(frames: Int, maximumDelay: UInt64 = 1_000_000, interval: UInt64 = 10_000) {
    self.frames = min(max(frames, 1), LiveFrameRunner.maximumBatch)
    self.maximumDelay = maximumDelay
    self.interval = max(interval, 1000)
  }

  /// Sleeps `nanoseconds` (the caller's thread).
  static func sleep(_ nanoseconds: UInt64) {
    var time = timespec(
      tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&time, &remaining) != 0, errno == EINTR { time = remaining }
  }
}
