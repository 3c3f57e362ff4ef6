import BPF
import CLinux
import CXDP
import Foundation
import Glibc

/// Processes xdpbatch starts and watches: a daemon of its own (the
/// software datapath), found again by pid and start time.
public enum Processes {
  /// Starts `executable` with `arguments` (the first being its name) in a
  /// session of its own, with standard input from `/dev/null`, standard
  /// output and error appended to `log` (made 0600), no descriptor of the
  /// caller's (a parent waiting for the caller's end must not wait for
  /// this one) and no blocked signal, except `lock`: a ``FileLock`` the
  /// child holds from its first instruction on, as descriptor 3 (the
  /// lock belongs to the open file, which both then share). Returns its pid.
  public static func spawn(
    _ executable: String, arguments: [String], log: String, inheriting lock: FileLock? = nil
  ) throws(SystemCallError) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // A copy above the descriptors the actions make, duplicated onto 3
    // (dup2 clears close-on-exec on the copy the child gets).
    let lockCopy = lock.map { fcntl($0.descriptor, F_DUPFD_CLOEXEC, 10) } ?? -1
    defer { if lockCopy >= 0 { close(lockCopy) } }
    if lock != nil {
      guard lockCopy >= 0 else {
        throw SystemCallError("duplicate the lock of \(lock!.path)", errno: .current)
      }
      posix_spawn_file_actions_adddup2(&actions, lockCopy, 3)
    }
    _ = cxdp_spawn_close_from(&actions, lock == nil ? 3 : 4)
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
    guard result == 0 else { throw SystemCallError("run \(executable)", errno: Errno(result)) }
    return pid
  }

  /// Whether child `pid` has exited (reaping it); without `waiting`, a
  /// running child answers false at once.
  @discardableResult
  public static func reap(_ pid: pid_t, waiting: Bool = false) -> Bool {
    var status: Int32 = 0
    while true {
      let result = waitpid(pid, &status, waiting ? 0 : WNOHANG)
      if result < 0, errno == EINTR { continue }
      return result == pid
    }
  }

  /// Sends `signal` to `pid`; whether it was delivered.
  @discardableResult
  public static func signal(_ pid: pid_t, _ signal: Int32) -> Bool { kill(pid, signal) == 0 }

  /// Whether a process with this pid exists (maybe another program that
  /// reused it: see ``startTicks(of:)``).
  public static func exists(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 }

  /// The start time of a live (not zombie) process `pid`, in clock ticks
  /// after boot (`/proc/PID/stat` field 22), nil when there is none: a
  /// live process with a recorded pid but another start time is not the
  /// one recorded.
  public static func startTicks(of pid: pid_t) -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state is field 3, start time field 22.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
    return UInt64(fields[19])
  }

  /// Runs the calling thread on CPU `cpu` only (`sched_setaffinity`);
  /// whether the kernel took it.
  @discardableResult
  public static func pinCallingThread(toCPU cpu: Int) -> Bool {
    var mask = [UInt8](repeating: 0, count: 128)
    mask[cpu / 8] |= 1 << (cpu % 8)
    return sched_setaffinity(0, mask.count, mask) == 0
  }

  /// The CPU the calling thread runs on now (it may move the next
  /// moment); 0 when the kernel does not say.
  public static var currentCPU: Int { max(0, Int(clinux_current_cpu())) }

  /// The live processes whose arguments after the program's name begin
  /// with `arguments` (`/proc/PID/cmdline`), this one left out: how a
  /// daemon whose pid no record holds is found again.
  public static func running(withArguments arguments: [String]) -> [pid_t] {
    var prefix: [UInt8] = []
    for argument in arguments { prefix += Array(argument.utf8) + [0] }
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    var found: [pid_t] = []
    for entry in entries {
      guard let pid = pid_t(entry), pid != getpid(),
        let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
        let first = data.firstIndex(of: 0)
      else { continue }
      let rest = [UInt8](data[data.index(after: first)...])
      if rest.starts(with: prefix), startTicks(of: pid) != nil { found.append(pid) }
    }
    return found
  }

  /// Runs `body` with the calling thread kept on the CPU it is on now
  /// (handed to `body`), and puts its affinity back afterwards: every
  /// `BPF_PROG_TEST_RUN` inside runs on that CPU, and touches the same
  /// per-CPU map values.
  public static func onCurrentCPU<Result>(_ body: (Int) throws -> Result) throws -> Result {
    let maskSize = 128  // bytes: 1024 CPUs, as glibc's cpu_set_t
    var previous = [UInt8](repeating: 0, count: maskSize)
    guard sched_getaffinity(0, maskSize, &previous) == 0 else {
      throw SystemCallError("sched_getaffinity", errno: Errno(clinux_errno()))
    }
    let cpu = Int(sched_getcpu())
    guard cpu >= 0, cpu < maskSize * 8 else {
      throw SystemCallError("sched_getcpu", errno: Errno(clinux_errno()))
    }
    guard pinCallingThread(toCPU: cpu) else {
      throw SystemCallError("sched_setaffinity", errno: Errno(clinux_errno()))
    }
    defer { sched_setaffinity(0, maskSize, previous) }
    return try body(cpu)
  }

  /// This process's own executable (`/proc/self/exe`, links resolved).
  public static var currentExecutable: String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
  }
}
