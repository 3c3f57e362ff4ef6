import Glibc

/// `CLOCK_MONOTONIC` in nanoseconds: the clock every `path ns` and
/// `prog ns` of the datapath (and of the bench's bare loop) is read on.
public enum MonotonicClock {
  /// Now, in nanoseconds since an arbitrary start.
  @inline(__always) public static func nanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
  }
}
