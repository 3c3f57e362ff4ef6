import Kernel

/// Which of the kernel's clocks timed a program's test runs (`bench
/// --json`: `kernel_rounds.timer`, `engines.kernel_test_run.timer`).
///
/// - `bpf_stats_run_time`: the kernel's own run statistics
///   (``RunStatistics``), on only for a round's second pass: per test run, the
///   program's `run_time_ns` and `run_cnt` added during it, read before
///   and after. Each run is timed by `sched_clock()` around the call into
///   the program (the dispatcher's call and the program, not the test-run
///   loop's step) in whole nanoseconds, and the kernel sums them over the
///   `repeat` runs: the per-run figure steps by 1/`repeat` ns, and the
///   clock's phase against the nanosecond dithers each run's rounding.
///   The two clock reads around each run change what the program costs
///   (docs/MEASUREMENTS.md, "kernel's own run-time statistics"): a second figure,
///   not the goal's.
/// - `test_run_duration`: `BPF_PROG_TEST_RUN`'s `duration`, the whole
///   test-run loop's time divided by `repeat` and truncated to whole
///   nanoseconds (`bpf_test_timer_continue`, `net/bpf/test_run.c`): the
///   figure steps by 1 ns. With statistics off, as here, each run is the
///   program called from the test-run loop with nothing between runs but
///   the loop's step, as the JIT's driver loop calls it: the goal's clock.
public struct KernelTimer: Encodable, Sendable, Equatable {
  /// The clock's name in `--json`.
  public enum Name: String, Encodable, Sendable {
    case runTimeStatistics = "bpf_stats_run_time"
    case testRunDuration = "test_run_duration"
  }

  /// The clock.
  public var name: Name
  /// The step of one test run's per-run figure, ns.
  public var resolutionNanoseconds: Double

  private enum CodingKeys: String, CodingKey {
    case name
    case resolutionNanoseconds = "resolutionNs"
  }

  /// `duration`'s whole nanoseconds.
  public static let testRunDuration = KernelTimer(name: .testRunDuration, resolutionNanoseconds: 1)

  /// The statistics' 1/`repeat` ns.
  public static func runTimeStatistics(repeat repetitions: UInt32) -> KernelTimer {
    KernelTimer(name: .runTimeStatistics, resolutionNanoseconds: 1 / Double(max(repetitions, 1)))
  }

  /// A net figure whose size is under this many steps of the clock is
  /// not a measurement of the program but of the clock's rounding: its
  /// ratio is left out of `goals` (`kernel_net_below_resolution`).
  public static let stepsResolved = 4.0

  /// Whether `net` (ns) is too small for this clock to resolve.
  public func cannotResolve(_ net: Double) -> Bool {
    abs(net) < Self.stepsResolved * resolutionNanoseconds
  }
}

/// One test run's figures: the chosen clock's ns per run and the
/// `duration` field beside it (the same test run).
struct TimedTestRun {
  /// The clock's ns per run.
  var nanoseconds: Double
  /// `BPF_PROG_TEST_RUN`'s `duration` (whole ns, the test-run loop).
  var duration: Double
  /// Runs the kernel's statistics counted during the test run: its
  /// `repeat` with statistics on; for the `duration` clock, more than 0
  /// only when another holder had them on (its test run then ran inside
  /// the statistics' bracket).
  var counted: UInt64
}

/// A clock of ``KernelBench/netFigure(_:)``: the test run's `duration`
/// with statistics off (``duration(repetitions:)``), or the kernel's run
/// statistics held on for as long as this value lives
/// (``statistics(repetitions:)``; closing the descriptor gives the hold
/// back).
struct KernelClock {
  let timer: KernelTimer
  let repetitions: UInt32
  private let statistics: RunStatistics?

  /// The test run's `duration`.
  static func duration(repetitions: UInt32) -> KernelClock {
    KernelClock(timer: .testRunDuration, repetitions: repetitions, statistics: nil)
  }

  /// Turns statistics on; throws the kernel's refusal (`EPERM`, `EINVAL`).
  static func statistics(repetitions: UInt32) throws(SystemCallError) -> KernelClock {
    KernelClock(
      timer: .runTimeStatistics(repeat: repetitions), repetitions: repetitions,
      statistics: try RunStatistics.enable())
  }

  /// Test-runs `program` on `frame`, `repetitions` times; with statistics,
  /// checks that the kernel counted exactly those runs.
  func run(_ program: LoadedProgram, frame: [UInt8]) throws(KernelBenchError) -> TimedTestRun {
    let test = TestRun(frame: frame, repetitions: repetitions)
    func kernel<T>(_ call: () throws(SystemCallError) -> T) throws(KernelBenchError) -> T {
      do { return try call() } catch { throw .kernel(error) }
    }
    let before = try kernel { () throws(SystemCallError) in try program.runCounters() }
    let result = try kernel { () throws(SystemCallError) in try test.run(program) }
    let after = try kernel { () throws(SystemCallError) in try program.runCounters() }
    let counted = after.since(before)
    guard statistics != nil else {
      let duration = Double(result.nanosecondsPerRun)
      return TimedTestRun(nanoseconds: duration, duration: duration, counted: counted.runCount)
    }
    guard counted.runCount == UInt64(repetitions), let perRun = counted.nanosecondsPerRun else {
      throw .miscounted(program: program.name, asked: repetitions, counted: counted.runCount)
    }
    return TimedTestRun(
      nanoseconds: perRun, duration: Double(result.nanosecondsPerRun), counted: counted.runCount)
  }

  /// Gives the hold on statistics back now (the descriptor closes when
  /// the last copy of this value goes; this keeps it until here).
  func end() { withExtendedLifetime(statistics) {} }
}
