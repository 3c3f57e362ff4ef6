import CBPF

/// The kernel's per-program run statistics (`run_cnt`, `run_time_ns`),
/// which it keeps only while someone holds a `BPF_ENABLE_STATS` descriptor.
///
/// While statistics are on, every run of every program goes through the
/// bracket of `__bpf_prog_run` (`include/linux/filter.h`): `sched_clock()`
/// before and after the call into the program, the difference (whole
/// nanoseconds) added to the program's `run_time_ns` and 1 to its
/// `run_cnt`, per CPU; `bpf_prog_get_info_by_fd` sums the CPUs. Test runs
/// count too (`bpf_test_run` calls `bpf_prog_run_xdp`, which goes through
/// the same bracket).
public struct RunStatistics: Sendable {
  /// The descriptor that keeps statistics on; closing it turns them off
  /// (unless another holder or the sysctl keeps them on). The kernel
  /// counts holders, so a process that dies (`kill -9` included) gives
  /// its hold back when the kernel closes its descriptors.
  public let descriptor: KernelDescriptor

  /// Turns run-time statistics on (`bpf_enable_stats(BPF_STATS_RUN_TIME)`).
  public static func enable() throws(SystemCallError) -> RunStatistics {
    let enabling = RunStatistics.enabling
    let fd = try check("enable BPF run-time statistics") { enabling() }
    return RunStatistics(descriptor: KernelDescriptor(owning: fd))
  }

  /// The call ``enable()`` makes: the kernel's `BPF_ENABLE_STATS` unless a
  /// test set another for its task (as ``SystemCalls/current``), to see
  /// what its caller does when the kernel refuses (`EPERM`, `EINVAL` on a
  /// kernel without the command). Returns a descriptor, or `-errno`.
  @TaskLocal public static var enabling: @Sendable () -> Int32 = {
    bpf_enable_stats(BPF_STATS_RUN_TIME)
  }
}

/// A program's run statistics at one instant: what the kernel has added up
/// while statistics were on (``RunStatistics``).
public struct RunCounters: Hashable, Sendable {
  /// Runs counted (`run_cnt`).
  public var runCount: UInt64
  /// Nanoseconds counted (`run_time_ns`), each run's whole nanoseconds.
  public var runTimeNanoseconds: UInt64

  /// Describes counters.
  public init(runCount: UInt64, runTimeNanoseconds: UInt64) {
    self.runCount = runCount
    self.runTimeNanoseconds = runTimeNanoseconds
  }

  /// What was counted between `earlier` and these counters.
  public func since(_ earlier: RunCounters) -> RunCounters {
    RunCounters(
      runCount: runCount &- earlier.runCount,
      runTimeNanoseconds: runTimeNanoseconds &- earlier.runTimeNanoseconds)
  }

  /// Average nanoseconds per run; nil without runs.
  public var nanosecondsPerRun: Double? {
    runCount == 0 ? nil : Double(runTimeNanoseconds) / Double(runCount)
  }
}

extension LoadedProgram {
  /// The program's run statistics now: `bpf_prog_info`'s `run_cnt` and
  /// `run_time_ns` alone (one `BPF_OBJ_GET_INFO_BY_FD`, no names).
  public func runCounters() throws(SystemCallError) -> RunCounters {
    let info = try ObjectInfo.read(
      bpf_prog_info.self, of: descriptor, "read the run statistics of program \"\(name)\"")
    return RunCounters(runCount: info.run_cnt, runTimeNanoseconds: info.run_time_ns)
  }
}
