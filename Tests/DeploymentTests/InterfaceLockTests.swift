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
}
