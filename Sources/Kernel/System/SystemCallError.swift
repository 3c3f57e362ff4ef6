import BPF
import Glibc

/// A kernel call that failed: what was being done, in the operator's
/// words, and the error number the kernel gave.
public struct SystemCallError: Error, Hashable, Sendable {
  /// What was being done (`create map "counters"`).
  public var operation: String
  /// The kernel's error number.
  public var errno: Errno

  /// Describes a failed call.
  public init(_ operation: String, errno: Errno) {
    self.operation = operation
    self.errno = errno
  }

  /// Whether the call failed because the caller lacks a privilege.
  public var isPermissionDenied: Bool { errno.isPermissionDenied }
}

extension SystemCallError: CustomStringConvertible {
  /// `create map "counters": Operation not permitted (errno 1)`.
  public var description: String { "\(operation): \(errno.message)" }
}

extension Errno {
  /// The C library's text for the number, then the number:
  /// `Operation not permitted (errno 1)`.
  public var message: String { "\(String(cString: strerror(rawValue))) (errno \(rawValue))" }

  /// The calling thread's `errno` now.
  public static var current: Errno { Errno(Glibc.errno) }
}
