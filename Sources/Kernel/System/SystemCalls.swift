import Glibc

/// The system calls on plain descriptors (files and sockets) that the
/// kernel seam makes, as a table that a test can replace for the code it
/// runs on its task (swift-system's syscall mocking): a read interrupted
/// by a signal, a peer that closes early, an `accept` that fails, all
/// without root or a misbehaving kernel. Each entry behaves as its libc
/// call: a negative result with `errno` set on failure.
public struct SystemCalls: Sendable {
  /// `read(2)`.
  public var read: @Sendable (Int32, UnsafeMutableRawPointer?, Int) -> Int
  /// `write(2)`.
  public var write: @Sendable (Int32, UnsafeRawPointer?, Int) -> Int
  /// `send(2)`.
  public var send: @Sendable (Int32, UnsafeRawPointer?, Int, Int32) -> Int
  /// `recv(2)`.
  public var receive: @Sendable (Int32, UnsafeMutableRawPointer?, Int, Int32) -> Int
  /// `accept(2)`, without the peer's address.
  public var accept: @Sendable (Int32) -> Int32

  /// Describes a table.
  public init(
    read: @escaping @Sendable (Int32, UnsafeMutableRawPointer?, Int) -> Int,
    write: @escaping @Sendable (Int32, UnsafeRawPointer?, Int) -> Int,
    send: @escaping @Sendable (Int32, UnsafeRawPointer?, Int, Int32) -> Int,
    receive: @escaping @Sendable (Int32, UnsafeMutableRawPointer?, Int, Int32) -> Int,
    accept: @escaping @Sendable (Int32) -> Int32
  ) {
    self.read = read
    self.write = write
    self.send = send
    self.receive = receive
    self.accept = accept
  }

  /// The kernel's own calls.
  public static let kernel = SystemCalls(
    read: { Glibc.read($0, $1, $2) }, write: { Glibc.write($0, $1, $2) },
    send: { Glibc.send($0, $1, $2, $3) }, receive: { Glibc.recv($0, $1, $2, $3) },
    accept: { Glibc.accept($0, nil, nil) })

  /// The table in use: ``kernel`` unless a test set another for its task.
  @TaskLocal public static var current = SystemCalls.kernel
}

/// Reads and writes on a descriptor through ``SystemCalls/current``,
/// retrying `EINTR` (a signal handled during the call interrupts it; the
/// call is then simply made again, `signal(7)`) and writing whole buffers.
public enum DescriptorIO {
  /// Reads at most `buffer.count` bytes; 0 at the end of the file or stream.
  public static func read(
    _ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer,
    _ operation: @autoclosure () -> String
  ) throws(SystemCallError) -> Int {
    let calls = SystemCalls.current
    return try check(operation(), retryingInterrupts: true) {
      calls.read(descriptor, buffer.baseAddress, buffer.count)
    }
  }

  /// Reads until a newline, the end of the stream or `limit` bytes:
  /// what a line-oriented peer sent.
  public static func readLine(
    _ descriptor: Int32, limit: Int, _ operation: @autoclosure () -> String
  ) throws(SystemCallError) -> [UInt8] {
    var line: [UInt8] = []
    let calls = SystemCalls.current
    var chunk = [UInt8](repeating: 0, count: min(limit, 4096))
    while line.count < limit {
      let room = min(chunk.count, limit - line.count)
      let got = try check(operation(), retryingInterrupts: true) {
        chunk.withUnsafeMutableBytes { calls.read(descriptor, $0.baseAddress, room) }
      }
      if got == 0 { break }
      line += chunk[..<got]
      if chunk[..<got].contains(UInt8(ascii: "\n")) { break }
    }
    return line
  }

  /// Writes every byte of `bytes` (a short write continues where it ended).
  public static func write(
    _ bytes: [UInt8], to descriptor: Int32, _ operation: @autoclosure () -> String
  ) throws(SystemCallError) {
    let calls = SystemCalls.current
    try transferAll(bytes, operation()) { calls.write(descriptor, $0, $1) }
  }

  /// Sends every byte of `bytes` on a stream socket without raising
  /// `SIGPIPE` (a peer that gave up must not kill the sender).
  public static func send(
    _ bytes: [UInt8], on descriptor: Int32, _ operation: @autoclosure () -> String
  ) throws(SystemCallError) {
    let calls = SystemCalls.current
    try transferAll(bytes, operation()) { calls.send(descriptor, $0, $1, Int32(MSG_NOSIGNAL)) }
  }

  /// Calls `transfer` (start, length) until every byte went: a short
  /// transfer continues where it ended; an interrupted one is retried.
  private static func transferAll(
    _ bytes: [UInt8], _ operation: @autoclosure () -> String,
    _ transfer: (UnsafeRawPointer, Int) -> Int
  ) throws(SystemCallError) {
    var done = 0
    while done < bytes.count {
      let offset = done
      done += try check(operation(), retryingInterrupts: true) {
        bytes.withUnsafeBytes { transfer($0.baseAddress! + offset, $0.count - offset) }
      }
    }
  }
}
