import BPF
import CLinux
import Glibc

/// A listening Unix stream socket at a path, made for its owner only
/// (mode 0600): line-oriented requests, one per connection. Calls
/// interrupted by a signal are made again.
public final class UnixListener: @unchecked Sendable {
  /// The socket's path.
  public let path: String
  private let descriptor: Int32
  private var closed = false

  /// Binds and listens at `path` (made with mode 0600, whatever the umask).
  public init(path: String) throws(SystemCallError) {
    self.path = path
    var address = try UnixListener.address(path)
    let fd = try SystemCall.check("socket") {
      socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | O_CLOEXEC, 0)  // SOCK_CLOEXEC is O_CLOEXEC
    }
    let previous = umask(0o177)
    defer { umask(previous) }
    do throws(SystemCallError) {
      try SystemCall.check("bind") {
        withUnsafePointer(to: &address) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
          }
        }
      }
      try SystemCall.check("bind") { chmod(path, 0o600) }
      try SystemCall.check("bind") { listen(fd, 16) }
    } catch {
      Glibc.close(fd)
      throw error
    }
    descriptor = fd
  }

  deinit { close() }

  /// The next connection; fails once the listener is closed.
  public func accept() throws(SystemCallError) -> UnixConnection {
    let calls = SystemCalls.current
    let fd = try SystemCall.check("accept", retryingInterrupts: true) { calls.accept(descriptor) }
    return UnixConnection(descriptor: fd)
  }

  /// Stops accepting and removes the socket file; safe to call twice.
  public func close() {
    guard !closed else { return }
    closed = true
    shutdown(descriptor, Int32(SHUT_RDWR))
    Glibc.close(descriptor)
    unlink(path)
  }

  /// `sockaddr_un` for `path`; `ENAMETOOLONG` when it does not fit.
  static func address(_ path: String) throws(SystemCallError) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard bytes.count < capacity else {
      throw SystemCallError("name (too long)", errno: .nameTooLong)
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    return address
  }
}

/// One connection of a Unix stream socket: a line sent, a line read.
/// Sends never raise `SIGPIPE` (a peer that gave up must not kill the
/// sender); calls interrupted by a signal are made again.
public final class UnixConnection: @unchecked Sendable {
  /// The descriptor, closed with the connection.
  public let descriptor: Int32

  init(descriptor: Int32) { self.descriptor = descriptor }

  deinit { close(descriptor) }

  /// Connects to the socket at `path`. With `timeout` (seconds), sending
  /// (which bounds `connect`) and each wait for data give up after that
  /// long with `EAGAIN`.
  public static func connect(to path: String, timeout: Double? = nil) throws(SystemCallError)
    -> UnixConnection
  {
    let fd = try SystemCall.check("socket") {
      socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | O_CLOEXEC, 0)  // SOCK_CLOEXEC is O_CLOEXEC
    }
    let connection = UnixConnection(descriptor: fd)
    if let timeout {
      let whole = max(timeout, 0.001)
      var value = timeval(
        tv_sec: Int(whole), tv_usec: Int((whole - Double(Int(whole))) * 1_000_000))
      for option in [SO_SNDTIMEO, SO_RCVTIMEO] {
        _ = setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
      }
    }
    var address = try UnixListener.address(path)
    try SystemCall.check("connect", retryingInterrupts: true) {
      withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
      }
    }
    return connection
  }

  /// Sends `line` and a newline.
  public func send(line: String) throws(SystemCallError) {
    try DescriptorIO.send(Array((line + "\n").utf8), on: descriptor, "send")
  }

  /// Reads up to a newline, the end of the stream or `limit` bytes.
  public func readLine(limit: Int) throws(SystemCallError) -> String {
    let bytes = try DescriptorIO.readLine(descriptor, limit: limit, "read")
    return String(decoding: bytes, as: UTF8.self)
  }
}
