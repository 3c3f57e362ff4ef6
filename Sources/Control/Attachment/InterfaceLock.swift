import Foundation
import Glibc
import Synchronization

/// The right to change one interface's attachment, held by one xdpbatch
/// process at a time: an exclusive `flock(2)` on
/// `/run/xdpbatch/IFACE.lock`, which holds the holder's pid.
///
/// Every state-changing command (attach, swap, strategy, detach, demo up
/// and down) holds it for the whole operation, so two of them never
/// interleave their kernel and file steps. The kernel drops the lock when
/// the holder dies, even by `kill -9`.
///
/// Re-entrant on one thread: taken again by the thread that holds it (an
/// operation of the software datapath around Control's own steps), it
/// returns a nested hold that releases nothing; the lock goes when the
/// outermost hold does. Another thread of the same process waits, as
/// another process does.
public final class InterfaceLock {
  /// The interface.
  public let interface: String
  /// The lock file.
  public let path: String
  private let descriptor: Int32
  private let state: StateDirectory
  /// Whether this is a nested hold of a lock the thread already held.
  public let isNested: Bool

  /// The locks this process holds, by path: the holding thread and how
  /// many holds it has.
  private static let holds = Mutex<[String: (thread: pthread_t, depth: Int)]>([:])

  /// How long ``acquire(interface:state:waiting:)`` waits by default.
  public static let defaultWait = 10.0

  private init(
    interface: String, path: String, descriptor: Int32, state: StateDirectory, nested: Bool
  ) {
    self.interface = interface
    self.path = path
    self.descriptor = descriptor
    self.state = state
    self.isNested = nested
  }

  /// A nested hold when this thread holds the lock at `path` already.
  private static func nestedHold(_ path: String) -> Bool {
    holds.withLock { held in
      guard let holding = held[path], pthread_equal(holding.thread, pthread_self()) != 0 else {
        return false
      }
      held[path]?.depth += 1
      return true
    }
  }

  /// Takes the lock for `interface`, waiting up to `seconds` for another
  /// holder to finish; then fails with ``LockError/busy(interface:pid:)``.
  public static func acquire(
    interface: String, state: StateDirectory, waiting seconds: Double = defaultWait
  ) throws(LockError) -> InterfaceLock {
    do {
      try state.create()
    } catch {
      throw .file(error)
    }
    let path = state.path + "/" + interface + ".lock"
    if nestedHold(path) {
      return InterfaceLock(
        interface: interface, path: path, descriptor: -1, state: state, nested: true)
    }
    let deadline = Date().addingTimeInterval(seconds)
    while true {
      let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, StateDirectory.recordMode)
      guard fd >= 0 else {
        throw .file(SystemCallError("open the lock file \(path)", code: errno))
      }
      if flock(fd, LOCK_EX | LOCK_NB) == 0 {
        // The file may have been removed by its last holder between our
        // open and our lock: then the lock is on a dead inode; retry.
        var held = stat()
        var named = stat()
        if fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_ino == named.st_ino,
          held.st_dev == named.st_dev
        {
          let text = Array("\(getpid())\n".utf8)
          _ = ftruncate(fd, 0)
          _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
          Self.holds.withLock { $0[path] = (thread: pthread_self(), depth: 1) }
          return InterfaceLock(
            interface: interface, path: path, descriptor: fd, state: state, nested: false)
        }
        close(fd)
        continue
      }
      let code = errno
      let holder = Self.holder(fd)
      close(fd)
      guard code == EWOULDBLOCK || code == EINTR else {
        throw .file(SystemCallError("lock \(path)", code: code))
      }
      if Date() >= deadline { throw .busy(interface: interface, pid: holder) }
      usleep(10_000)
    }
  }

  /// The pid written in the lock file, if any.
  private static func holder(_ fd: Int32) -> pid_t? {
    var buffer = [UInt8](repeating: 0, count: 32)
    let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    guard count > 0 else { return nil }
    return pid_t(
      String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(
        in: .whitespacesAndNewlines))
  }

  deinit {
    if isNested {
      Self.holds.withLock { $0[path]?.depth -= 1 }
      return
    }
    Self.holds.withLock { _ = $0.removeValue(forKey: path) }
    // Nothing of xdpbatch left on the interface: the lock file goes too
    // (removed while held; a waiter that opened it retries, see above).
    if !PinDirectory.exists(PinDirectory(interface: interface).path),
      state.record(interface: interface) == nil
    {
      unlink(path)
    }
    close(descriptor)
  }
}

/// Why the interface's lock could not be taken. Nothing was changed.
public enum LockError: Error, Sendable, CustomStringConvertible {
  /// Another xdpbatch process holds it (pid when it wrote one).
  case busy(interface: String, pid: pid_t?)
  /// The lock file could not be made or locked.
  case file(SystemCallError)

  /// A message naming the interface and the other process.
  public var description: String {
    switch self {
    case .busy(let interface, let pid):
      "another xdpbatch is changing \(interface) (pid \(pid.map(String.init) ?? "unknown")); try again when it is done"
    case .file(let error): error.description
    }
  }
}
