import BPF
import Datapath
import Foundation
import Glibc
import Kernel

/// Starts `xdpbatch datapath run` as a process of its own (a new session,
/// standard output and error appended to a log), waits until its control
/// socket answers, and stops it again.
struct DatapathLauncher {
  /// The `xdpbatch` executable to run.
  var executable: String
  /// Where records, logs and control sockets live.
  var state: StateDirectory

  /// The log of `interface`'s datapath.
  func logPath(_ interface: String) -> String { state.file(interface + ".log") }

  /// The lock every datapath process the launcher starts holds for its
  /// whole life, from before its `exec` (``Kernel/Processes/spawn(_:arguments:log:inheriting:)``),
  /// with its pid written in: while it is held, a datapath child of
  /// `interface` exists, even one not yet `datapath run IFACE` in /proc.
  func processLockPath(_ interface: String) -> String { state.file(interface + ".datapath") }

  /// The datapath child holding `interface`'s process lock: `(true, pid)`
  /// with the pid the launcher wrote (nil, or a dead pid, when it was
  /// killed before writing it); `(false, nil)` when none does.
  func launchedChild(_ interface: String) -> (exists: Bool, pid: pid_t?) {
    let holder = FileLock.holder(of: processLockPath(interface))
    return (holder.held, holder.pid)
  }

  /// Starts the datapath for `record`'s program in `form` (with the
  /// record's rewrite, mode, engine and actions) and waits up to 15 s
  /// until it answers; a process that exits first fails with its log's
  /// last lines.
  func launch(_ record: AttachmentRecord, form: Form) throws(DatapathError)
    -> DatapathProcessRecord
  {
    let interface = record.interface
    let log = logPath(interface)
    do {
      try state.create()
    } catch {
      throw .kernel(error)
    }
    let engine = record.engine ?? .platformDefault
    let arguments =
      [
        executable, "datapath", "run", interface, record.object, "--program", record.program,
        "--form", form.rawValue, "--strategy", record.strategy.rawValue, "--bound",
        record.bound.rawValue, "--mode", record.attachMode.rawValue, "--engine", engine.rawValue,
      ] + (record.groupActions == true ? ["--group-actions"] : [])
    let lock: FileLock
    do {
      lock = try FileLock.acquire(
        path: processLockPath(interface), mode: StateDirectory.fileMode, waiting: 5)
    } catch {
      let holder: String
      switch error {
      case .busy(let pid): holder = pid.map { "process \($0)" } ?? "another process"
      case .file(let call): holder = "nothing (\(call))"
      }
      throw .process(
        interface: interface,
        log:
          "an earlier datapath of \(interface) still holds \(processLockPath(interface)): \(holder)"
      )
    }
    // The child holds its copy for its whole life; this one goes here.
    defer { lock.release() }
    let pid: pid_t
    do {
      pid = try Processes.spawn(executable, arguments: arguments, log: log, inheriting: lock)
    } catch {
      lock.release(removingFile: true)
      throw .process(interface: interface, log: "cannot run \(executable): \(error.errno.message)")
    }
    lock.recordHolder(pid)
    let client = DatapathClient(interface: interface, state: state)
    let deadline = Date().addingTimeInterval(15)
    while Date() < deadline {
      if (try? client.status()) != nil {
        return DatapathProcessRecord(
          pid: pid, startTicks: Processes.startTicks(of: pid) ?? 0,
          started: Date().timeIntervalSince1970, log: log)
      }
      if Processes.reap(pid) { break }
      usleep(50_000)
    }
    Processes.signal(pid, SIGKILL)
    Processes.reap(pid, waiting: true)
    let reason = Self.tail(of: log)
    unlink(log)
    // The child is gone: this copy is the last hold, and the file goes with it.
    lock.release(removingFile: true)
    throw .process(interface: interface, log: reason)
  }

  /// The last lines of a log (what a failed start printed), joined into
  /// one, each without the child's own prefix (`xdpbatch: error: `,
  /// `xdpbatch datapath: `): the parent's message has its own.
  static func tail(of path: String, lines: Int = 4) -> String {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(whereSeparator: \.isNewline).suffix(lines).map { line in
      var line = Substring(line)
      for prefix in ["xdpbatch datapath: ", "xdpbatch: "] where line.hasPrefix(prefix) {
        line = line.dropFirst(prefix.count)
      }
      if line.hasPrefix("error: ") { line = line.dropFirst("error: ".count) }
      return line.trimmingCharacters(in: .whitespaces)
    }.joined(separator: "; ")
  }

  /// Stops the recorded process: asks through the control socket when it
  /// is the one answering there, else (or when it does not go) SIGTERM,
  /// then SIGKILL; returns when it is gone, and its TAP device and
  /// process lock with it (``removeProcessLock(_:)``). Called holding the
  /// interface's lock.
  func stop(_ process: DatapathProcessRecord, interface: String) {
    defer { removeProcessLock(interface, after: process.pid) }
    guard process.isAlive else { return }
    let client = DatapathClient(interface: interface, state: state, timeout: 1)
    let answering = (try? client.status())?.pid == process.pid
    if answering { _ = try? client.request("stop") }
    for attempt in 0..<100 {
      if !process.isAlive { break }
      if attempt == (answering ? 40 : 0) { Processes.signal(process.pid, SIGTERM) }
      if attempt == (answering ? 80 : 40) { Processes.signal(process.pid, SIGKILL) }
      Processes.reap(process.pid)
      usleep(50_000)
    }
    Processes.reap(process.pid)
    waitForPassDeviceToGo(interface)
  }

  /// Removes `interface`'s process lock file when no datapath child holds
  /// it any more. Taken first and removed while held, as
  /// ``Kernel/FileLock`` removes its files: a launcher that opened the old
  /// file meanwhile finds the name gone and makes a new one; a child that
  /// still holds it (another datapath than the one stopped) keeps it.
  ///
  /// `stopped`: the pid of a child just stopped. A process's first thread
  /// reads as gone (a zombie, then reaped) while its other threads still
  /// close its files (an AF_XDP socket's teardown waits for RCU grace
  /// periods), the lock among them; while the lock names `stopped` as its
  /// holder, its release is awaited (up to ``lastThreadsWait``) instead.
  func removeProcessLock(_ interface: String, after stopped: pid_t? = nil) {
    let path = processLockPath(interface)
    let holder = FileLock.holder(of: path)
    let waiting =
      holder.held && holder.pid != nil && holder.pid == stopped ? Self.lastThreadsWait : 0
    guard let lock = try? FileLock.acquireIfPresent(path: path, waiting: waiting) else { return }
    lock.release(removingFile: true)
  }

  /// How long ``removeProcessLock(_:after:)`` waits for a stopped child's
  /// last threads to close the lock, in seconds.
  static let lastThreadsWait = 10.0

  /// The TAP device goes with the last descriptor of its process, but the
  /// kernel unregisters it after the process is gone: waits (up to 10 s)
  /// until it has, so that what returns has left nothing.
  func waitForPassDeviceToGo(_ interface: String) {
    guard let name = PassDeviceName.for(interface) else { return }
    for _ in 0..<200 where NetworkInterface.index(of: name) != nil { usleep(50_000) }
  }
}
