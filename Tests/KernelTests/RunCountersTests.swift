import BPF
import Glibc
import KernelTestSupport
import Testing

@testable import Kernel

/// The run statistics `bench` times the kernel by (``RunCounters``): what
/// `bpf_prog_info` says, read without the rest of the program's info.
@Suite(.enabled(if: KernelAccess.available, KernelAccess.comment))
struct RunCountersTests {
  /// With statistics on, a test run of `repeat` runs adds exactly that
  /// many to `run_cnt`, and the counters read alone agree with the full
  /// `ProgramInfo` read just after them.
  @Test func aTestRunAddsItsRepeatCount() throws {
    let loaded = try ProgramLoader(maps: []).load(TestPrograms.returning(.drop, name: "counted"))
    let statistics = try RunStatistics.enable()
    let before = try loaded.program.runCounters()
    _ = try TestRun(frame: [UInt8](repeating: 0, count: 60), repetitions: 321).run(loaded.program)
    let after = try loaded.program.runCounters()
    let info = try loaded.program.info()
    withExtendedLifetime(statistics) {}
    #expect(after.since(before).runCount == 321)
    #expect(info.runCount == after.runCount && info.runTimeNanoseconds == after.runTimeNanoseconds)
    #expect(
      after.since(before).nanosecondsPerRun
        == Double(after.runTimeNanoseconds - before.runTimeNanoseconds) / 321)
    #expect(RunCounters(runCount: 0, runTimeNanoseconds: 0).nanosecondsPerRun == nil)
  }

  /// A refusal from the kernel (here a stand-in for `BPF_ENABLE_STATS`
  /// answering `EINVAL`, as a kernel without the command does) is a typed
  /// error naming the step.
  @Test func aRefusalIsATypedError() throws {
    #expect(throws: SystemCallError("enable BPF run-time statistics", errno: Errno(EINVAL))) {
      try RunStatistics.$enabling.withValue({ -EINVAL }) { _ = try RunStatistics.enable() }
    }
  }
}
