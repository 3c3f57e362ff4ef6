import Glibc

/// A kernel call that failed, with the operation and the object it was
/// about, and the `errno` it returned.
public struct SystemCallError: Error, Equatable, Sendable {
  /// What was being done, in the operator's words (`create map "counters"`).
  public var operation: String
  /// The `errno` value.
  public var code: Int32

  /// Describes a failed call.
  public init(_ operation: String, code: Int32) {
    self.operation = operation
    self.code = code
  }

  /// Whether the call failed because the caller lacks a privilege.
  public var isPermissionDenied: Bool { code == EPERM || code == EACCES }
}

extension SystemCallError: CustomStringConvertible {
  /// `create map "counters": Operation not permitted (errno 1)`.
  public var description: String {
    "\(operation): \(String(cString: strerror(code))) (errno \(code))"
  }
}

/// Runs a libbpf or libc call that returns a negative value on failure and
/// sets `errno`, and turns a failure into a ``SystemCallError``.
@discardableResult
func check(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws(SystemCallError)
  -> Int32
{
  errno = 0
  let result = call()
  if result < 0 {
    let code = errno
    // libbpf returns -errno as well as setting errno; prefer errno.
    throw SystemCallError(operation(), code: code != 0 ? code : -result)
  }
  return result
}
