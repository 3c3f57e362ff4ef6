import Glibc

/// Signals a process waits for instead of dying of them (SIGINT, SIGTERM,
/// SIGHUP for a daemon): blocked in the calling thread, which the threads
/// it starts afterwards inherit, and taken with ``wait(timeout:)``.
public struct SignalSet: @unchecked Sendable {
  private var set = sigset_t()

  /// Blocks `signals` in the calling thread (and the threads it starts
  /// from now on): they wait for ``wait(timeout:)`` instead of their
  /// default action.
  public static func block(_ signals: [Int32]) -> SignalSet {
    var blocked = SignalSet()
    sigemptyset(&blocked.set)
    for signal in signals { sigaddset(&blocked.set, signal) }
    pthread_sigmask(SIG_BLOCK, &blocked.set, nil)
    return blocked
  }

  /// Waits for one of the signals: the one that arrived, or nil when
  /// `timeout` (seconds) passed first. Without a timeout, waits as long
  /// as it takes.
  public func wait(timeout: Double? = nil) -> Int32? {
    var set = self.set
    guard let timeout else {
      var caught: Int32 = 0
      while sigwait(&set, &caught) != 0 {}
      return caught
    }
    var time = timespec(
      tv_sec: Int(timeout), tv_nsec: Int((timeout - Double(Int(timeout))) * 1e9))
    while true {
      let caught = sigtimedwait(&set, nil, &time)
      if caught > 0 { return caught }
      if errno != EINTR { return nil }
    }
  }
}
