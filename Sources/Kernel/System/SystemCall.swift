import BPF
import Glibc

/// How the kernel seam calls the kernel: every libc and libbpf call that
/// can fail goes through ``check(_:retryingInterrupts:_:)``, which turns a
/// failure into a ``SystemCallError`` with the kernel's ``Errno``.
///
/// `EINTR` is retried only where the kernel says the call may simply be
/// made again (`signal(7)`: reads, writes, `accept`, `connect`, `recv` on
/// sockets and files, `waitpid`); a BPF command that returns `EINTR`
/// (`BPF_PROG_TEST_RUN` with a pending signal) means "stop" and is
/// reported as it is.
public enum SystemCall {
  /// Runs a call that returns a negative value on failure and sets
  /// `errno` (libbpf also returns `-errno`: either is read), and throws
  /// its failure. With `retryingInterrupts`, a failure with `EINTR` runs
  /// the call again.
  @discardableResult
  public static func check<Result: BinaryInteger>(
    _ operation: @autoclosure () -> String, retryingInterrupts: Bool = false,
    _ call: () -> Result
  ) throws(SystemCallError) -> Result {
    while true {
      Glibc.errno = 0
      let result = call()
      guard result < 0 else { return result }
      // libbpf returns -errno as well as setting errno; prefer errno.
      let code = Glibc.errno != 0 ? Errno(Glibc.errno) : Errno(-Int32(truncatingIfNeeded: result))
      if retryingInterrupts, code == .interrupted { continue }
      throw SystemCallError(operation(), errno: code)
    }
  }
}

/// Runs a libbpf or libc call that returns a negative value on failure
/// and sets `errno` (see ``SystemCall/check(_:retryingInterrupts:_:)``).
@discardableResult
func check<Result: BinaryInteger>(
  _ operation: @autoclosure () -> String, retryingInterrupts: Bool = false, _ call: () -> Result
) throws(SystemCallError) -> Result {
  try SystemCall.check(operation(), retryingInterrupts: retryingInterrupts, call)
}
