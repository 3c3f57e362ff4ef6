import Foundation
import Glibc
import Kernel
import Testing

@testable import Deployment

/// The launcher's process lock: a child started with it holds it from
/// before its exec until it dies, with the pid the launcher wrote; and
/// recovery finds such a child by that pid though nothing in /proc names
/// it `datapath run IFACE`.
struct DatapathProcessLockTests {
  /// A scratch state directory of its own.
  static func scratchState() throws -> StateDirectory {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-lock-\(UInt32.random(in: 0..<UInt32.max))").path
    let state = StateDirectory(path: path)
    try state.create()
    return state
  }

  /// `/bin/sleep 30` started holding `lock`, its pid written there.
  static func sleeper(holding lock: FileLock, log: String) throws -> pid_t {
    let pid = try Processes.spawn(
      "/bin/sleep", arguments: ["sleep", "30"], log: log, inheriting: lock)
    lock.recordHolder(pid)
    return pid
  }

  /// A sleeper started by `launcher`'s rule for `interface`: holding its
  /// process lock, its pid written there, the parent's copy let go.
  static func launchedChild(_ launcher: DatapathLauncher, _ interface: String) throws -> pid_t {
    let lock = try FileLock.acquire(
      path: launcher.processLockPath(interface), mode: StateDirectory.fileMode, waiting: 0)
    defer { lock.release() }
    return try sleeper(holding: lock, log: launcher.logPath(interface))
  }

  @Test func theChildHoldsTheLockUntilItDies() throws {
    let state = try Self.scratchState()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    let path = state.file("veth-x.datapath")
    #expect(FileLock.holder(of: path).held == false)
    let lock = try FileLock.acquire(path: path, mode: StateDirectory.fileMode, waiting: 0)
    let pid = try Self.sleeper(holding: lock, log: state.file("veth-x.log"))
    lock.release()
    // The parent's copy is gone: the child's keeps the lock.
    let held = FileLock.holder(of: path)
    #expect(held.held && held.pid == pid, "\(held) for child \(pid)")
    Processes.signal(pid, SIGKILL)
    Processes.reap(pid, waiting: true)
    #expect(FileLock.holder(of: path).held == false)
  }

  @Test func recoveryStopsTheChildTheLockNames() throws {
    let state = try Self.scratchState()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    let interface = "xdpbt-lock\(UInt16.random(in: 0..<9999))"
    let launcher = DatapathLauncher(executable: "/bin/false", state: state)
    let pid = try Self.launchedChild(launcher, interface)
    defer {
      Processes.signal(pid, SIGKILL)
      Processes.reap(pid, waiting: true)
    }
    // No record, no pending record, nothing `datapath run` in /proc: only
    // the lock says the child exists, and under which pid.
    var recovery = DatapathRecovery(state: state, launcher: launcher)
    recovery.answerWait = 0.2
    let outcome = recovery.recover(interface: interface)
    #expect(outcome.stopped == [pid])
    Processes.reap(pid)
    #expect(!Processes.exists(pid))
    #expect(launcher.launchedChild(interface).exists == false)
  }

  @Test func stoppingTheChildRemovesItsLockFile() throws {
    let state = try Self.scratchState()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    let interface = "xdpbt-stop\(UInt16.random(in: 0..<9999))"
    let launcher = DatapathLauncher(executable: "/bin/false", state: state)
    let path = launcher.processLockPath(interface)
    let pid = try Self.launchedChild(launcher, interface)
    launcher.stop(
      DatapathProcessRecord(
        pid: pid, startTicks: Processes.startTicks(of: pid) ?? 0, started: 0, log: ""),
      interface: interface)
    #expect(!Processes.exists(pid))
    #expect(access(path, F_OK) != 0, "\(path) is left after its datapath stopped")
  }

  /// A stopped child's first thread can read as gone while its other
  /// threads still close its files: the lock, naming the child, is still
  /// held. Modelled by a `sleep 0.3` holding the lock after the child it
  /// names died: `stop` waits for the release and removes the file
  /// (taking it with no wait, as before, left the file there).
  @Test func aStoppedChildsLockIsAwaitedUntilItsLastThreadLetsGo() throws {
    let state = try Self.scratchState()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    let interface = "xdpbt-last\(UInt16.random(in: 0..<9999))"
    let launcher = DatapathLauncher(executable: "/bin/false", state: state)
    let path = launcher.processLockPath(interface)
    let child = try Processes.spawn(
      "/bin/sleep", arguments: ["sleep", "30"], log: launcher.logPath(interface), inheriting: nil)
    let record = DatapathProcessRecord(
      pid: child, startTicks: Processes.startTicks(of: child) ?? 0, started: 0, log: "")
    Processes.signal(child, SIGKILL)
    Processes.reap(child, waiting: true)
    let lock = try FileLock.acquire(path: path, mode: StateDirectory.fileMode, waiting: 0)
    let lastThreads = try Processes.spawn(
      "/bin/sleep", arguments: ["sleep", "0.3"], log: launcher.logPath(interface), inheriting: lock)
    lock.recordHolder(child)
    lock.release()
    defer { Processes.reap(lastThreads, waiting: true) }
    #expect(FileLock.holder(of: path) == (true, child))
    launcher.stop(record, interface: interface)
    #expect(FileLock.holder(of: path).held == false, "stop returned before the lock's release")
    #expect(access(path, F_OK) != 0, "\(path) is left after its datapath's last thread let go")
  }

  @Test func aLockAnotherChildHoldsStays() throws {
    let state = try Self.scratchState()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    let interface = "xdpbt-keep\(UInt16.random(in: 0..<9999))"
    let launcher = DatapathLauncher(executable: "/bin/false", state: state)
    let path = launcher.processLockPath(interface)
    let holder = try Self.launchedChild(launcher, interface)
    defer {
      Processes.signal(holder, SIGKILL)
      Processes.reap(holder, waiting: true)
    }
    // A stray process of the interface (no lock) is stopped; the child
    // holding the lock is not touched, and neither is its file.
    let stray = try Processes.spawn(
      "/bin/sleep", arguments: ["sleep", "30"], log: launcher.logPath(interface), inheriting: nil)
    launcher.stop(
      DatapathProcessRecord(
        pid: stray, startTicks: Processes.startTicks(of: stray) ?? 0, started: 0, log: ""),
      interface: interface)
    #expect(!Processes.exists(stray))
    #expect(FileLock.holder(of: path) == (true, holder))
  }

  @Test func aFailedStartNamesTheReasonOnceWithoutTheChildsPrefix() throws {
    let state = try Self.scratchState()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    let log = state.file("veth-x.log")
    try Data(
      ("xdpbatch datapath: libbpf: map 'jmp_table': created\n"
        + "xdpbatch: error: xdp_tailcall_prog: instruction 12: bpf_tail_call never returns\n").utf8
    ).write(to: URL(fileURLWithPath: log))
    #expect(
      DatapathLauncher.tail(of: log)
        == "libbpf: map 'jmp_table': created; xdp_tailcall_prog: instruction 12: bpf_tail_call never returns"
    )
  }
}
