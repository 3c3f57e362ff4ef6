import Glibc
import Synchronization

/// Set by SIGTERM, SIGHUP and SIGINT; the run loop polls it each tick
/// (at least every 100 ms) and leaves through its normal exit path, which
/// restores the terminal.
private let terminationRequested = Atomic<Int32>(0)

/// Installs and removes the console's termination handlers.
enum TerminationSignals {
  static let handled = [SIGTERM, SIGHUP, SIGINT]

  /// Routes the signals to the flag and unblocks them (a parent may have
  /// started us with them blocked); returns the previous handlers.
  static func install() -> [Int32: sighandler_t?] {
    terminationRequested.store(0, ordering: .relaxed)
    var set = sigset_t()
    sigemptyset(&set)
    for number in handled { sigaddset(&set, number) }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    var previous: [Int32: sighandler_t?] = [:]
    for number in handled {
      previous[number] = signal(number) { number in
        terminationRequested.store(number, ordering: .relaxed)
      }
    }
    return previous
  }

  /// Puts the previous handlers back.
  static func restore(_ previous: [Int32: sighandler_t?]) {
    for (number, handler) in previous { signal(number, handler) }
  }

  /// The signal that asked the console to stop, `nil` if none.
  static var received: Int32? {
    let number = terminationRequested.load(ordering: .relaxed)
    return number == 0 ? nil : number
  }
}
