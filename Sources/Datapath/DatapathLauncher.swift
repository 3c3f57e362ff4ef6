import BPF
import CXDP
import Control
import Foundation
import Glibc

/// Starts `xdpbatch datapath run` as a process of its own (a new session,
/// standard output and error appended to a log), and waits until its
/// control socket answers.
struct DatapathLauncher {
  /// The `xdpbatch` executable to run.
  var executable: String
  /// Where records, logs and control sockets live.
  var state: StateDirectory

  /// The log of `interface`'s datapath.
  func logPath(_ interface: String) -> String { state.path + "/" + interface + ".log" }

  /// Starts the datapath of `configuration` and waits (up to 15 s) until it
  /// answers; a process that exits first fails with its log's last lines.
  func launch(_ configuration: DatapathConfiguration) throws(DatapathError)
    -> DatapathProcessRecord
  {
    let interface = configuration.interface
    let log = logPath(interface)
    do {
      try state.create()
    } catch {
      throw .kernel(error)
    }
    let arguments =
      [
        executable, "datapath", "run", interface, configuration.source.objectPath, "--program",
        configuration.source.programName, "--form", configuration.form.rawValue, "--strategy",
        configuration.strategy.rawValue, "--bound", configuration.bound.rawValue, "--mode",
        configuration.attachMode.rawValue, "--engine", configuration.engine.rawValue,
      ] + (configuration.groupActions ? ["--group-actions"] : [])
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // Nothing else of the caller's: a parent waiting for the caller's end
    // (Foundation watches a socket it leaves in its child) must not wait for ours.
    _ = cxdp_spawn_close_from(&actions, 3)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // A session of its own (POSIX_SPAWN_SETSID), no inherited blocked signals.
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setflags(&attributes, Int16(0x80 | POSIX_SPAWN_SETSIGMASK))
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, &attributes, &argv, environ)
    guard result == 0 else {
      throw .process(
        interface: interface, log: "cannot run \(executable): \(DatapathError.text(result))")
    }
    let client = DatapathClient(interface: interface, state: state)
    let deadline = Date().addingTimeInterval(15)
    while Date() < deadline {
      if (try? client.status()) != nil {
        return DatapathProcessRecord(
          pid: pid, startTicks: DatapathProcessRecord.startTicks(of: pid) ?? 0,
          started: Date().timeIntervalSince1970, log: log)
      }
      var status: Int32 = 0
      if waitpid(pid, &status, WNOHANG) == pid { break }
      usleep(50_000)
    }
    kill(pid, SIGKILL)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    let reason = Self.tail(of: log)
    unlink(log)
    throw .process(interface: interface, log: reason)
  }

  /// The last lines of a log (what a failed start printed).
  static func tail(of path: String, lines: Int = 4) -> String {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").suffix(lines).joined(separator: "; ")
  }

  /// Stops the recorded process: asks through the control socket, then
  /// SIGTERM, then SIGKILL; returns when it is gone.
  func stop(_ process: DatapathProcessRecord, interface: String) {
    guard process.isAlive else { return }
    _ = try? DatapathClient(interface: interface, state: state).request("stop")
    for attempt in 0..<100 {
      if !process.isAlive { break }
      if attempt == 40 { kill(process.pid, SIGTERM) }
      if attempt == 80 { kill(process.pid, SIGKILL) }
      var status: Int32 = 0
      _ = waitpid(process.pid, &status, WNOHANG)
      usleep(50_000)
    }
  }
}
