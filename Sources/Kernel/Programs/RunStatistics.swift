import CBPF

/// The kernel's per-program run statistics (`run_cnt`, `run_time_ns`),
/// which it keeps only while someone holds a `BPF_ENABLE_STATS` descriptor.
public struct RunStatistics: Sendable {
  /// The descriptor that keeps statistics on; closing it turns them off
  /// (unless another holder or the sysctl keeps them on).
  public let descriptor: KernelDescriptor

  /// Turns run-time statistics on (`bpf_enable_stats(BPF_STATS_RUN_TIME)`).
  public static func enable() throws(SystemCallError) -> RunStatistics {
    let fd = try check("enable BPF run-time statistics") {
      bpf_enable_stats(BPF_STATS_RUN_TIME)
    }
    return RunStatistics(descriptor: KernelDescriptor(owning: fd))
  }
}
