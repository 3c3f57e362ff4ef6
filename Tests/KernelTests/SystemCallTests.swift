import BPF
import Foundation
import Glibc
import Testing

@testable import Kernel

/// The kernel seam's calls without root: `EINTR` retried where the call
/// may be made again and reported where it means "stop", whole reads and
/// writes, errors that carry the kernel's number. The descriptor calls go
/// through ``SystemCalls``, replaced here for the task (swift-system's
/// syscall mocking): a signal in the middle of a read needs no signal.
@Suite struct SystemCallTests {
  /// A table whose `read` hands out `chunks` one call at a time (an
  /// `EINTR` for each `nil`), then end of file.
  static func reading(_ chunks: [[UInt8]?]) -> (SystemCalls, Counter) {
    let counter = Counter()
    var calls = SystemCalls.kernel
    calls.read = { _, buffer, count in
      let call = counter.next()
      guard call < chunks.count else { return 0 }
      guard let chunk = chunks[call] else {
        Glibc.errno = EINTR
        return -1
      }
      let bytes = min(count, chunk.count)
      chunk.withUnsafeBytes { buffer!.copyMemory(from: $0.baseAddress!, byteCount: bytes) }
      return bytes
    }
    return (calls, counter)
  }

  /// Counts calls across the table's closures.
  final class Counter: @unchecked Sendable {
    private var count = 0
    private let lock = NSLock()
    func next() -> Int {
      lock.lock()
      defer { lock.unlock() }
      count += 1
      return count - 1
    }
    var calls: Int { lock.withLock { count } }
  }

  @Test func interruptedCallsAreMadeAgainOnlyWhenAsked() throws {
    var attempts = 0
    let result = try SystemCall.check("read", retryingInterrupts: true) { () -> Int in
      attempts += 1
      if attempts < 3 {
        Glibc.errno = EINTR
        return -1
      }
      return 42
    }
    #expect(result == 42 && attempts == 3)

    attempts = 0
    #expect(throws: SystemCallError("test run", errno: .interrupted)) {
      try SystemCall.check("test run") { () -> Int32 in
        attempts += 1
        Glibc.errno = EINTR
        return -1
      }
    }
    #expect(attempts == 1, "a BPF test run interrupted by a signal means stop")
  }

  @Test func libbpfsNegativeErrnoIsReadWhenErrnoIsClear() {
    #expect(throws: SystemCallError("load", errno: .invalid)) {
      try SystemCall.check("load") { () -> Int32 in
        Glibc.errno = 0
        return -22
      }
    }
  }

  @Test func aLineInterruptedBySignalsArrivesWhole() throws {
    let (calls, counter) = Self.reading([nil, Array("sta".utf8), nil, nil, Array("tus\nx".utf8)])
    let line = try SystemCalls.$current.withValue(calls) {
      try DescriptorIO.readLine(-1, limit: 256, "read the request")
    }
    #expect(String(decoding: line, as: UTF8.self) == "status\nx")
    #expect(counter.calls == 5, "three interruptions, two reads")
  }

  @Test func theEndOfTheStreamEndsTheLineAndOtherFailuresAreThrown() throws {
    let (calls, _) = Self.reading([Array("swa".utf8)])
    let line = try SystemCalls.$current.withValue(calls) {
      try DescriptorIO.readLine(-1, limit: 256, "read")
    }
    #expect(line == Array("swa".utf8))

    var failing = SystemCalls.kernel
    failing.read = { _, _, _ in
      Glibc.errno = ECONNRESET
      return -1
    }
    #expect(throws: SystemCallError("read the answer", errno: .connectionReset)) {
      try SystemCalls.$current.withValue(failing) {
        _ = try DescriptorIO.readLine(-1, limit: 256, "read the answer")
      }
    }
  }

  @Test func shortAndInterruptedWritesWriteEverything() throws {
    let written = Counter()
    let collected = Collected()
    var calls = SystemCalls.kernel
    calls.write = { _, bytes, count in
      if written.next() % 2 == 0 {
        Glibc.errno = EINTR
        return -1
      }
      // Two bytes at a time.
      let taken = min(count, 2)
      collected.append(Array(UnsafeRawBufferPointer(start: bytes, count: taken)))
      return taken
    }
    try SystemCalls.$current.withValue(calls) {
      try DescriptorIO.write(Array("record".utf8), to: -1, "write the record")
    }
    #expect(collected.bytes == Array("record".utf8))
    #expect(written.calls == 6, "three interruptions, three short writes")
  }

  final class Collected: @unchecked Sendable {
    var bytes: [UInt8] = []
    func append(_ more: [UInt8]) { bytes += more }
  }

  /// A request and its answer through a real Unix socket, the server's
  /// read interrupted twice (no root needed).
  @Test func aUnixSocketCarriesOneLineEachWay() throws {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("xbt-\(UInt32.random(in: 0..<UInt32.max)).sock").path
    let listener = try UnixListener(path: path)
    defer { listener.close() }
    var mode = stat()
    #expect(stat(path, &mode) == 0 && mode.st_mode & 0o777 == 0o600, "the socket is its owner's")
    let server = Thread {
      guard let connection = try? listener.accept() else { return }
      let line = (try? connection.readLine(limit: 64)) ?? ""
      try? connection.send(line: "answer to " + line.trimmingCharacters(in: .newlines))
    }
    server.start()
    let client = try UnixConnection.connect(to: path, timeout: 5)
    try client.send(line: "status")
    #expect(try client.readLine(limit: 64) == "answer to status\n")
    listener.close()
    #expect(access(path, F_OK) != 0, "closing removes the socket file")
    #expect(throws: SystemCallError("connect", errno: .notFound)) {
      _ = try UnixConnection.connect(to: path)
    }
  }

  @Test func errnoIsAValueWithTheKernelsNumbersAndText() {
    #expect(Errno.notFound.rawValue == ENOENT && Errno.wouldBlock.rawValue == EAGAIN)
    #expect(Errno.operationNotSupported.rawValue == EOPNOTSUPP)
    #expect(Errno.notPermitted.isPermissionDenied && Errno.accessDenied.isPermissionDenied)
    #expect(!Errno.busy.isPermissionDenied)
    #expect(-Errno.invalid == -22, "what a helper returns")
    #expect(
      SystemCallError("create map \"counters\"", errno: .notPermitted).description
        == "create map \"counters\": Operation not permitted (errno 1)")
  }
}
