import Foundation
import Glibc
import Kernel
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
/// operation of the software datapath around the kernel's own steps), it
/// returns a nested hold that releases nothing; the lock goes when the
/// outermost hold does. Another thread of the same process waits, as
/// another process does.
public final class InterfaceLock {
  /// The interface.
  public let interface: String
  /// The lock file.
  public let path: String
  /// The lock, `nil` for a nested hold.
  private let file: FileLock?
  private let state: StateDirectory
  /// Whether this is a nested hold of a lock the thread already held.
  public var isNested: Bool { file == nil }

  /// The locks this process holds, by path: the holding thread and how
  /// many holds it has.
  private static let holds = Mutex<[String: (thread: pthread_t, depth: Int)]>([:])

  /// How long ``acquire(interface:state:waiting:)`` waits by default.
  public static let defaultWait = 10.0

  private init(interface: String, path: String, file: FileLock?, state: StateDirectory) {
    self.interface = interface
    self.path = path
    self.file = file
    self.state = state
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
    let path = state.file(interface + ".lock")
    let lock = try hold(interface: interface, path: path, state: state) {
      () throws(FileLock.Failure) in
      // The directory can go between create() and here (demo down).
      try state.makingFile(
        { () throws(FileLock.Failure) in
          try FileLock.acquire(path: path, mode: StateDirectory.fileMode, waiting: seconds)
        },
        errno: { if case .file(let call) = $0 { call.errno } else { nil } })
    }
    // Not nil: FileLock.acquire makes a missing file or fails.
    guard let lock else { throw .file(SystemCallError("lock \(path)", errno: .notFound)) }
    return lock
  }

  /// Takes the lock for `interface` only while its lock file exists (see
  /// ``Kernel/FileLock/acquireIfPresent(path:waiting:)``): nil when there
  /// is none, or when the holder it waited for removed it with everything
  /// it guarded. For a cleanup, which must not leave a new lock file for
  /// an interface another command has just cleaned up.
  public static func acquireIfPresent(
    interface: String, state: StateDirectory, waiting seconds: Double = defaultWait
  ) throws(LockError) -> InterfaceLock? {
    let path = state.file(interface + ".lock")
    return try hold(interface: interface, path: path, state: state) { () throws(FileLock.Failure) in
      try FileLock.acquireIfPresent(path: path, waiting: seconds)
    }
  }

  /// A nested hold when this thread holds the lock at `path` already,
  /// else the lock `take` takes (nil: none).
  private static func hold(
    interface: String, path: String, state: StateDirectory,
    _ take: () throws(FileLock.Failure) -> FileLock?
  ) throws(LockError) -> InterfaceLock? {
    if nestedHold(path) {
      return InterfaceLock(interface: interface, path: path, file: nil, state: state)
    }
    let taken: FileLock?
    do {
      taken = try take()
    } catch {
      switch error {
      case .busy(let pid): throw .busy(interface: interface, pid: pid)
      case .file(let call): throw .file(call)
      }
    }
    guard let file = taken else { return nil }
    holds.withLock { $0[path] = (thread: pthread_self(), depth: 1) }
    return InterfaceLock(interface: interface, path: path, file: file, state: state)
  }

  deinit {
    guard let file else {
      Self.holds.withLock { $0[path]?.depth -= 1 }
      return
    }
    Self.holds.withLock { _ = $0.removeValue(forKey: path) }
    // Nothing of xdpbatch left on the interface: the lock file goes too
    // (removed while held; a waiter that opened it retries).
    file.release(
      removingFile: !PinDirectory.exists(PinDirectory(interface: interface).path)
        && state.record(interface: interface) == nil)
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
