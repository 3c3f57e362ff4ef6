import BPF
import Datapath
import Foundation
import Glibc
import Kernel

/// What a killed command, or a datapath that died, can leave on an
/// interface, and what the next command does about it. Run holding the
/// interface's lock, first thing in `attach`, `swap`, `detach` and
/// `datapath form`, and by `stats` when the lock is free:
///
/// - a datapath process no record names (`attach` or `swap` killed after
///   starting it), serving the interface (its redirect program on the
///   link, its control socket answering): adopted, its record written
///   from its status and the pending record;
/// - a datapath process that serves nothing (the link runs another
///   program, or no link; or it never answers): stopped, its sockets map
///   and control socket removed;
/// - a pending record of a software start that did not finish: removed
///   once its process is adopted or stopped;
/// - a record of a software datapath whose process is gone: left for the
///   caller (the kernel fallback runs the program meanwhile; `swap` and
///   `attach` start the datapath again, `detach` removes everything,
///   readers say so).
///
/// The fallback pin stays whenever the link runs the redirect program:
/// it is what the kernel runs in the datapath's place.
struct DatapathRecovery {
  /// Where records, logs and control sockets live.
  var state: StateDirectory
  /// Stops processes.
  var launcher: DatapathLauncher
  /// How long a datapath process found without a record may take to
  /// answer on its control socket (one that was just started installs
  /// its kernel half first).
  var answerWait: Double = 3

  /// What recovery found.
  struct Outcome {
    /// The record afterwards (adopted, or as it was).
    var record: AttachmentRecord?
    /// The datapath processes stopped.
    var stopped: [pid_t] = []
    /// Whether a running datapath was adopted.
    var adopted = false
  }

  /// The datapath processes of `interface`: those the command line names
  /// (`xdpbatch datapath run IFACE …`), the recorded one, and the child
  /// holding the launcher's process lock under the pid written there.
  func processes(of interface: String, record: AttachmentRecord?) -> [pid_t] {
    var found = Processes.running(withArguments: ["datapath", "run", interface])
    if let process = record?.process, process.isAlive, !found.contains(process.pid) {
      found.append(process.pid)
    }
    let child = launcher.launchedChild(interface)
    if child.exists, let pid = child.pid, pid != getpid(), Processes.exists(pid),
      !found.contains(pid)
    {
      found.append(pid)
    }
    return found
  }

  /// Recognises and repairs what is left on `interface` (holding its lock).
  func recover(interface: String) -> Outcome {
    var record = state.record(interface: interface)
    let pending = state.pendingRecord(interface: interface)
    var candidates = processes(of: interface, record: record)
    if candidates.isEmpty, launcher.launchedChild(interface).exists {
      // A datapath child holds the launcher's process lock, but its
      // launcher was killed before it wrote the child's pid there: the
      // child is between fork and exec, not yet `datapath run IFACE` in
      // /proc. It exists (the lock says so); wait until it shows.
      let deadline = Date().addingTimeInterval(answerWait)
      repeat {
        usleep(20_000)
        candidates = processes(of: interface, record: record)
      } while candidates.isEmpty && launcher.launchedChild(interface).exists && Date() < deadline
    }
    var outcome = Outcome(record: record)
    if record != nil, nothingAttached(interface) {
      // A detach killed after it removed the link (or the program taken
      // off by another tool): the record describes nothing; finish the
      // detach.
      removeEverything(interface: interface, record: record)
      state.removePending(interface: interface)
      return Outcome(record: nil, stopped: candidates)
    }
    guard !candidates.isEmpty || pending?.isSoftware == true else { return outcome }
    let client = DatapathClient(interface: interface, state: state, timeout: 1)
    // The one that answers, given time to finish starting.
    var serving: DatapathStatus?
    if !candidates.isEmpty {
      let deadline = Date().addingTimeInterval(answerWait)
      repeat {
        if let status = try? client.status(), candidates.contains(status.pid) {
          serving = status
          break
        }
        usleep(50_000)
      } while Date() < deadline && candidates.contains(where: Processes.exists)
    }
    let attached = attachedProgram(interface)
    if let serving, let attached, attached.isRedirect {
      for pid in candidates where pid != serving.pid { stop(pid, interface) }
      outcome.stopped = candidates.filter { $0 != serving.pid }
      if record?.process?.pid != serving.pid || record?.isSoftware != true
        || record?.programID != attached.id
      {
        record = adopt(serving, programID: attached.id, pending: pending, previous: record)
        if let record { try? state.save(record) }
        outcome.adopted = true
      }
    } else {
      for pid in candidates { stop(pid, interface) }
      outcome.stopped = candidates
      if attached?.isRedirect != true {
        // Nothing of the datapath serves the interface any more.
        SoftwareDatapath.removeLeftovers(interface: interface, state: state, keepCounters: true)
      }
    }
    if pending?.isSoftware == true { state.removePending(interface: interface) }
    outcome.record = record
    return outcome
  }

  /// Whether the kernel says no XDP program runs on `interface` (false
  /// when it cannot say: a failed query changes nothing).
  private func nothingAttached(_ interface: String) -> Bool {
    guard let index = NetworkInterface.index(of: interface),
      let programs = try? NetlinkXDP.programs(interfaceIndex: index, interface: interface)
    else { return false }
    return programs.isEmpty
  }

  /// Everything `detach` removes after the link: every datapath process
  /// of `interface`, then its TAP device (waited for), log, sockets,
  /// pins and record.
  func removeEverything(interface: String, record: AttachmentRecord?) {
    for pid in processes(of: interface, record: record) { stop(pid, interface) }
    launcher.waitForPassDeviceToGo(interface)
    // The log stays after a datapath moved back to the kernel, until detach.
    unlink(launcher.logPath(interface))
    // Under the interface's lock: no launcher has it open meanwhile.
    unlink(launcher.processLockPath(interface))
    SoftwareDatapath.removeLeftovers(interface: interface, state: state)
    let pins = PinDirectory(interface: interface)
    unlink(pins.countersPath)
    pins.removeDirectories()
    state.removeRecord(interface: interface)
  }

  /// The program on the link, and whether it is the datapath's redirect program.
  private func attachedProgram(_ interface: String) -> (id: UInt32, isRedirect: Bool)? {
    guard let attachment = try? XDPAttachment.open(interface: interface),
      let program = try? attachment.program(),
      let id = try? program.info().id
    else { return nil }
    let redirect = (try? DatapathRedirect.of(program)) ?? nil
    return (id, redirect != nil)
  }

  /// The record of a running datapath found without one: what it reports,
  /// what the unfinished change meant to record (`pending`), what was
  /// recorded before.
  private func adopt(
    _ status: DatapathStatus, programID: UInt32, pending: AttachmentRecord?,
    previous: AttachmentRecord?
  ) -> AttachmentRecord {
    let base = pending ?? previous
    var record = AttachmentRecord(
      interface: status.interface, object: status.object, program: status.program,
      form: status.form, attachMode: base?.attachMode ?? .native,
      strategy: BatchStrategy(rawValue: status.strategy) ?? .default,
      bound: BatchBound(rawValue: status.bound) ?? .default, programID: programID)
    if let mode = try? XDPAttachment.open(interface: status.interface)?.mode() {
      record.attachMode = mode
    }
    record.datapath = .software
    record.process = DatapathProcessRecord(
      pid: status.pid, startTicks: Processes.startTicks(of: status.pid) ?? 0,
      started: status.started, log: launcher.logPath(status.interface))
    record.movedFromKernel = base?.movedFromKernel
    record.engine = status.engine ?? base?.engine
    record.groupActions = status.groupActions ?? base?.groupActions
    return record
  }

  private func stop(_ pid: pid_t, _ interface: String) {
    launcher.stop(
      DatapathProcessRecord(
        pid: pid, startTicks: Processes.startTicks(of: pid) ?? 0, started: 0, log: ""),
      interface: interface)
  }
}
