import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The standard demo (namespace xdpbatch-demo, veth xdpbatch0) exists once
/// per machine: suites that make it (the command line's and the console's
/// end-to-end tests) take this lock, a `flock` on a file in /tmp, so that
/// they do not run at the same time.
public struct DemoLock {
  /// The lock file.
  public static let path = "/tmp/xdpbatch-demo.lock"
  private let descriptor: Int32

  /// Waits for the lock.
  public init() {
    descriptor = open(Self.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
    if descriptor >= 0 { flock(descriptor, LOCK_EX) }
  }

  /// Lets the next holder in.
  public func release() {
    guard descriptor >= 0 else { return }
    flock(descriptor, LOCK_UN)
    close(descriptor)
  }
}
