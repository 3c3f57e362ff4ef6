import Foundation
import Glibc
import Testing

@testable import Kernel

/// ``XDPSocket/waitReadable(_:microseconds:)``, the datapath's short wait
/// for frames (one ppoll(2) with a timespec), on a pipe: it waits its whole
/// timeout when nothing is readable and sees a readable descriptor, also
/// one numbered above select(2)'s FD_SETSIZE (1024), where the former
/// wait polled for a millisecond whatever the timeout asked.
@Suite struct ReadableWaitTests {
  /// A pipe whose read end is moved to a descriptor at or above `lowest`
  /// (the soft descriptor limit raised for it when needed).
  final class Pipe {
    let read: Int32
    let write: Int32

    init(lowest: Int32 = 0) throws {
      var ends: [Int32] = [0, 0]
      guard pipe(&ends) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
      write = ends[1]
      guard lowest > 0 else {
        read = ends[0]
        return
      }
      read = try Self.move(ends, above: lowest)
    }

    /// Moves `ends[0]` to the lowest free descriptor from `lowest` up.
    private static func move(_ ends: [Int32], above lowest: Int32) throws -> Int32 {
      var limit = rlimit()
      getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
      if limit.rlim_cur < rlim_t(lowest) + 64 {
        limit.rlim_cur = min(limit.rlim_max, rlim_t(lowest) + 64)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
      }
      let moved = fcntl(ends[0], F_DUPFD_CLOEXEC, lowest)
      let error = errno
      close(ends[0])
      guard moved >= 0 else {
        close(ends[1])
        throw POSIXError(.init(rawValue: error) ?? .EIO)
      }
      return moved
    }

    deinit {
      close(read)
      close(write)
    }

    func send() { _ = [UInt8(1)].withUnsafeBytes { Glibc.write(write, $0.baseAddress, 1) } }
  }

  /// Nanoseconds `body` took (CLOCK_MONOTONIC) and what it returned.
  static func timed(_ body: () -> Bool) -> (Bool, UInt64) {
    var before = timespec()
    var after = timespec()
    clock_gettime(CLOCK_MONOTONIC, &before)
    let result = body()
    clock_gettime(CLOCK_MONOTONIC, &after)
    let nanoseconds =
      (Int64(after.tv_sec) - Int64(before.tv_sec)) * 1_000_000_000
      + Int64(after.tv_nsec) - Int64(before.tv_nsec)
    return (result, UInt64(nanoseconds))
  }

  @Test(arguments: [Int32(0), 1500])
  func anEmptyDescriptorIsWaitedForTheWholeTimeout(lowest: Int32) throws {
    let pipe = try Pipe(lowest: lowest)
    #expect(pipe.read >= lowest)
    // 30 ms: above FD_SETSIZE the former wait gave up after 1 ms.
    let (readable, long) = Self.timed { XDPSocket.waitReadable(pipe.read, microseconds: 30_000) }
    #expect(!readable)
    #expect(long >= 30_000_000)
    // Shorter than a millisecond: the timespec keeps the microseconds.
    let (shortReadable, short) = Self.timed {
      XDPSocket.waitReadable(pipe.read, microseconds: 300)
    }
    #expect(!shortReadable)
    #expect(short >= 300_000)
  }

  @Test(arguments: [Int32(0), 1500])
  func aReadableDescriptorIsSeen(lowest: Int32) throws {
    let pipe = try Pipe(lowest: lowest)
    pipe.send()
    #expect(XDPSocket.waitReadable(pipe.read, microseconds: 5_000_000))
    // A writer on another thread wakes a waiting reader.
    let writer = Thread { [write = pipe.write] in
      usleep(20_000)
      _ = [UInt8(2)].withUnsafeBytes { Glibc.write(write, $0.baseAddress, 1) }
    }
    var byte: UInt8 = 0
    _ = Glibc.read(pipe.read, &byte, 1)
    writer.start()
    #expect(XDPSocket.waitReadable(pipe.read, microseconds: 5_000_000))
  }
}
