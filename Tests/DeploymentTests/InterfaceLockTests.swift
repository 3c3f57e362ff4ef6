import Foundation
import Glibc
import Kernel
import Synchronization
import Testing

@testable import Deployment

/// The interface lock is re-entrant on the thread that holds it (the
/// software datapath's operations around Control's own steps) and
/// exclusive against every other thread and process.
struct InterfaceLockTests {
  /// Tries to take the lock on another thread (not waiting); whether it got it.
  static func otherThreadTakes(_ interface: String, _ state: StateDirectory) -> Bool {
    let taken = Mutex(false)
    let done = DispatchSemaphore(value: 0)
    Thread {
      let lock = try? InterfaceLock.acquire(interface: interface, state: state, waiting: 0)
      taken.withLock { $0 = lock != nil }
      done.signal()
    }.start()
    done.wait()
    return taken.withLock { $0 }
  }

  @Test func nestedOnItsThreadExclusiveForOthers() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "xdpbatch-lock-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
    ).path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let state = StateDirectory(path: directory)
    let interface = "xbl\(UInt32.random(in: 0..<UInt32.max))"
    var outer: InterfaceLock? = try InterfaceLock.acquire(
      interface: interface, state: state, waiting: 0)
    #expect(outer?.isNested == false)
    var nested: InterfaceLock? = try InterfaceLock.acquire(
      interface: interface, state: state, waiting: 0)
    #expect(nested?.isNested == true)
    #expect(!Self.otherThreadTakes(interface, state))
    // The nested hold's end releases nothing.
    nested = nil
    #expect(!Self.otherThreadTakes(interface, state))
    #expect(FileManager.default.fileExists(atPath: directory + "/\(interface).lock"))
    // The outermost hold's end does.
    withExtendedLifetime(nested) {}
    outer = nil
    withExtendedLifetime(outer) {}
    #expect(Self.otherThreadTakes(interface, state))
  }

  /// A cleanup's lock (`acquireIfPresent`) never makes the lock file:
  /// none there, none made; a holder that removes it with everything it
  /// guarded leaves the waiter nothing to do and no file. Before, a
  /// command cleaning up a deleted interface waited for another one doing
  /// the same, then made a new lock file that stood until it let go
  /// (VanishedInterfaceTests found it there in CI).
  @Test func aCleanupsLockNeverMakesTheFile() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "xdpbatch-lock-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
    ).path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let state = StateDirectory(path: directory)
    try state.create()
    let interface = "xbl\(UInt32.random(in: 0..<UInt32.max))"
    let path = directory + "/\(interface).lock"
    #expect(
      try InterfaceLock.acquireIfPresent(interface: interface, state: state, waiting: 0) == nil)
    #expect(!FileManager.default.fileExists(atPath: path))

    var holder: InterfaceLock? = try InterfaceLock.acquire(
      interface: interface, state: state, waiting: 0)
    // The waiter records whether it got a lock and whether the file was
    // there while it held it.
    let waited = Mutex<(locked: Bool, fileThere: Bool)?>(nil)
    let done = DispatchSemaphore(value: 0)
    Thread {
      let lock = try? InterfaceLock.acquireIfPresent(interface: interface, state: state, waiting: 5)
      let fileThere = FileManager.default.fileExists(atPath: path)
      waited.withLock { $0 = (lock != nil, fileThere) }
      withExtendedLifetime(lock) {}
      done.signal()
    }.start()
    usleep(200_000)
    #expect(waited.withLock { $0 } == nil, "the waiter waits for the holder")
    // No record, no pins: the holder's release removes the file.
    withExtendedLifetime(holder) {}
    holder = nil
    done.wait()
    #expect(waited.withLock { $0?.locked } == false)
    #expect(waited.withLock { $0?.fileThere } == false)
    #expect(!FileManager.default.fileExists(atPath: path))

    // A file that is there (a killed command's) is locked.
    #expect(FileManager.default.createFile(atPath: path, contents: nil))
    let kept = try InterfaceLock.acquireIfPresent(interface: interface, state: state, waiting: 0)
    #expect(kept?.isNested == false)
    #expect(
      String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        == "\(getpid())\n")
  }
}
