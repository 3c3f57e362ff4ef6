import BPF
import Foundation
import Glibc

/// An exclusive `flock(2)` on a file that holds the holder's pid: one
/// process at a time, dropped by the kernel when the holder dies, even by
/// `kill -9`. The descriptor is `O_CLOEXEC`: a process the holder starts
/// does not inherit the lock.
public final class FileLock {
  /// The lock file.
  public let path: String
  /// The open lock file (a child given a copy holds the lock with it).
  let descriptor: Int32
  private var released = false

  private init(path: String, descriptor: Int32) {
    self.path = path
    self.descriptor = descriptor
  }

  /// Why the lock could not be taken.
  public enum Failure: Error, Sendable {
    /// Another process held it for the whole wait (its pid when it wrote one).
    case busy(pid: pid_t?)
    /// The file could not be made or locked.
    case file(SystemCallError)
  }

  /// Takes the lock on `path` (made with `mode` if missing), waiting up
  /// to `seconds` for another holder to let go.
  ///
  /// A holder may remove the file while holding it (when nothing it
  /// guards is left): a waiter that then locks the removed file's inode
  /// sees that the name no longer leads there and tries again.
  public static func acquire(path: String, mode: mode_t, waiting seconds: Double)
    throws(Failure) -> FileLock
  {
    guard let lock = try take(path: path, creating: mode, waiting: seconds) else {
      // Not reached: with `O_CREAT`, a missing file is made or open fails.
      throw .file(SystemCallError("open the lock file \(path)", errno: .notFound))
    }
    return lock
  }

  /// Takes the lock on `path` only while the file exists, waiting up to
  /// `seconds` for another holder to let go; nil when there is no file,
  /// or when the holder waited for removed it (nothing it guarded is
  /// left). Never makes the file: a cleanup that finds its work done by
  /// another process leaves no new lock file behind.
  public static func acquireIfPresent(path: String, waiting seconds: Double)
    throws(Failure) -> FileLock?
  {
    try take(path: path, creating: nil, waiting: seconds)
  }

  /// The lock on `path`, the file made with mode `creating` if missing
  /// (nil: not made, and nil returned).
  private static func take(path: String, creating mode: mode_t?, waiting seconds: Double)
    throws(Failure) -> FileLock?
  {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
      let fd: Int32
      do {
        fd = try SystemCall.check("open the lock file \(path)", retryingInterrupts: true) {
          if let mode {
            open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode)
          } else {
            open(path, O_RDWR | O_CLOEXEC)
          }
        }
      } catch {
        if mode == nil, error.errno == .notFound { return nil }
        throw .file(error)
      }
      if flock(fd, LOCK_EX | LOCK_NB) == 0 {
        var held = stat()
        var named = stat()
        if fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_ino == named.st_ino,
          held.st_dev == named.st_dev
        {
          let text = Array("\(getpid())\n".utf8)
          _ = ftruncate(fd, 0)
          _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
          return FileLock(path: path, descriptor: fd)
        }
        close(fd)
        continue
      }
      let code = Errno.current
      let holder = Self.holder(fd)
      close(fd)
      guard code == .wouldBlock || code == .interrupted else {
        throw .file(SystemCallError("lock \(path)", errno: code))
      }
      if Date() >= deadline { throw .busy(pid: holder) }
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

  /// Writes `pid` in the file as its holder (a child that inherited the
  /// lock and holds it past this process).
  public func recordHolder(_ pid: pid_t) {
    let text = Array("\(pid)\n".utf8)
    _ = ftruncate(descriptor, 0)
    _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
  }

  /// Whether some process holds the lock on `path` (nothing there: no),
  /// with the pid written in the file. The file is not changed.
  public static func holder(of path: String) -> (held: Bool, pid: pid_t?) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return (false, nil) }
    defer { close(fd) }
    if flock(fd, LOCK_SH | LOCK_NB) == 0 {
      flock(fd, LOCK_UN)
      return (false, nil)
    }
    return (Errno.current == .wouldBlock, holder(fd))
  }

  /// Lets the lock go; with `removingFile`, the file goes first (removed
  /// while held, so that no other process takes a lock on it meanwhile).
  public func release(removingFile: Bool = false) {
    guard !released else { return }
    released = true
    if removingFile { unlink(path) }
    close(descriptor)
  }

  deinit { release() }
}
