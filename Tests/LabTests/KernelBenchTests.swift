import Deployment
import Foundation
import Glibc
import Kernel
import KernelTestSupport
import TestSupport
import Testing

@testable import Lab

/// Issue 22: `bench` gives the kernel's ns per packet net of the test-run
/// loop, measured in the same run with the same frames and repeat count.
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct KernelBenchTests {
  let bench = {
    var bench = KernelBench(repetitions: 2_000, netRounds: 3)
    bench.kernelStatistics = true
    return bench
  }()

  @Test func theTestRunLoopCostsLessThanAProgramThatDoesWork() throws {
    // xdp_stack_helper calls helpers and walks its stack per packet: the
    // loop alone (the empty program, same rounds) must cost less, and the
    // net figure is the median of the rounds' differences.
    let source = ProgramSource(
      objectPath: PackageLayout.sample("xdp_stack_helper"), programName: "xdp_stack_helper_prog")
    let figure = try #require(try bench.netFigure(source))
    #expect(figure.net.rounds == 3 && figure.empty.rounds == 3 && figure.gross.rounds == 3)
    #expect(figure.empty.median > 0)
    #expect(figure.empty.median < figure.gross.median, "\(figure)")
    #expect(figure.net.median > 0, "\(figure)")
    // The JIT's net, timed in the same rounds, beside it.
    let jit = try #require(figure.jitNet)
    #expect(jit.rounds == 3 && jit.median > 0, "\(jit)")
  }

  @Test func rowsTakeTheMediansOfTheirRounds() throws {
    let sources = [("xdp1", "xdp_prog1"), ("xdp_tx", "xdp_tx")].map {
      ProgramSource(objectPath: PackageLayout.sample($0.0), programName: $0.1)
    }
    var rows = sources.map { SampleFigures(object: $0.objectPath, program: $0.programName) }
    SampleFigures.addKernel(to: &rows, sources: sources, bench: bench, live: false)
    for row in rows {
      #expect(row.notes.isEmpty, "\(row.notes)")
      let rounds = try #require(row.kernelRounds)
      #expect(row.kernelNanosecondsPerPacket == rounds.gross.median)
      #expect(row.kernelNetNanosecondsPerPacket == rounds.net.median)
      #expect(rounds.net.rounds == 3)
    }
  }

  static let tx = ProgramSource(objectPath: PackageLayout.sample("xdp_tx"), programName: "xdp_tx")

  static func statisticsSysctl() throws -> String {
    try String(contentsOfFile: "/proc/sys/kernel/bpf_stats_enabled", encoding: .utf8)
  }

  /// Each round times the programs twice: by `duration` with statistics
  /// off (the figures and the goal's) and by the kernel's run statistics,
  /// held only while that pass runs: every statistics test run counted
  /// exactly its `repeat` runs (else the bench throws); `duration`'s
  /// figures are whole nanoseconds, the statistics' are not; afterwards
  /// the sysctl reads as before and runs are no longer counted.
  @Test func theStatisticsTimeASecondPassAndAreOffAfterwards() throws {
    let sysctl = try Self.statisticsSysctl()
    let figure = try #require(try bench.netFigure(Self.tx))
    #expect(figure.timer == .testRunDuration && figure.statisticsRefusal == nil)
    let statistics = try #require(figure.runTimeStatistics)
    #expect(statistics.timer == .runTimeStatistics(repeat: 2_000))
    #expect(statistics.timer.resolutionNanoseconds == 1 / 2_000.0)
    #expect(statistics.net.rounds == 3 && figure.net.rounds == 3)
    // A round's figure averages 5 frames, and the median of 3 rounds is
    // one of them: `duration`'s are fifths of whole nanoseconds, the
    // statistics' (steps of 1/2,000 ns) not both.
    func fifths(_ value: Double) -> Bool { abs(value * 5 - (value * 5).rounded()) < 1e-9 }
    #expect(fifths(figure.gross.median) && fifths(figure.empty.median), "\(figure)")
    #expect(!(fifths(statistics.gross.median) && fifths(statistics.empty.median)), "\(statistics)")
    #expect(try Self.statisticsSysctl() == sysctl)
    // Off again: a test run is not counted. Other holders (suites in
    // this process, other processes) turn statistics on for a while at a
    // time, so one uncounted test run within the deadline is enough; a
    // hold this bench kept would count every one. With the sysctl on,
    // statistics stay on whatever the bench does.
    guard sysctl.hasPrefix("0") else { return }
    let loaded = try ProgramLoader(maps: []).load(
      TestPrograms.returning(.pass, name: "after_bench"))
    var counted: [UInt64] = []
    let uncounted = try eventually(seconds: 120) {
      let before = try loaded.program.runCounters()
      _ = try TestRun(frame: [UInt8](repeating: 0, count: 60), repetitions: 100).run(loaded.program)
      counted.append(try loaded.program.runCounters().since(before).runCount)
      return counted.last == 0
    }
    #expect(uncounted, "runs counted after the bench: \(counted.suffix(10))")
  }

  /// A `duration` test run that ran while another holder had statistics
  /// on (here this test) is counted as such: every one of them, 4 rounds
  /// (the warm-up included) of 5 frames, 2 tries, 2 programs.
  @Test func durationTestRunsUnderAnotherHoldersStatisticsAreCounted() throws {
    let other = try RunStatistics.enable()
    let figure = try #require(try bench.netFigure(Self.tx))
    withExtendedLifetime(other) {}
    #expect(figure.durationTestRunsCounted == 4 * 5 * 2 * 2)
    #expect(figure.runTimeStatistics != nil)
  }

  /// One test run's figure is the run time the kernel added over the runs
  /// it added, the same as `bpf_prog_info` read separately around it.
  @Test func aTestRunsFigureIsItsRunTimeOverItsRuns() throws {
    let loaded = try ProgramLoader(maps: []).load(TestPrograms.returning(.pass, name: "per_run"))
    let clock = try KernelClock.statistics(repetitions: 500)
    #expect(clock.timer == .runTimeStatistics(repeat: 500))
    let before = try loaded.program.info()
    let timed = try clock.run(loaded.program, frame: [UInt8](repeating: 0, count: 60))
    let after = try loaded.program.info()
    clock.end()
    #expect(after.runCount - before.runCount == 500)
    let perRun = Double(after.runTimeNanoseconds - before.runTimeNanoseconds) / 500
    #expect(timed.nanoseconds == perRun)
    #expect(timed.duration == timed.duration.rounded())
  }

  /// Without `kernelStatistics` (`bench`'s default) the rounds never ask
  /// for statistics (the switch is machine-wide): the stand-in for
  /// `BPF_ENABLE_STATS` is never called, and only `duration` times them.
  @Test func statisticsAreAskedForOnlyWhenRequested() throws {
    let asked = Counter()
    let plain = KernelBench(repetitions: 2_000, netRounds: 3)
    #expect(plain.kernelStatistics == false)
    let figure = try RunStatistics.$enabling.withValue({
      asked.increment()
      return -EPERM
    }) {
      try #require(try plain.netFigure(Self.tx))
    }
    #expect(asked.value == 0)
    #expect(figure.runTimeStatistics == nil && figure.statisticsRefusal == nil)
    #expect(figure.timer == .testRunDuration && figure.net.rounds == 3)
  }

  /// When the kernel refuses statistics (`EPERM` here, from a stand-in for
  /// `BPF_ENABLE_STATS`), the rounds keep their `duration` figures, with
  /// no statistics figures and the refusal stated.
  @Test func refusedStatisticsLeaveTheDurationFiguresAndSaySo() throws {
    let figure = try RunStatistics.$enabling.withValue({ -EPERM }) {
      try #require(try bench.netFigure(Self.tx))
    }
    #expect(figure.timer == .testRunDuration && figure.runTimeStatistics == nil)
    let refusal = try #require(figure.statisticsRefusal)
    #expect(refusal.contains("enable BPF run-time statistics") && refusal.contains("errno 1"))
    #expect(figure.net.rounds == 3)
    #expect(figure.belowResolution == (abs(figure.net.median) < 4))
  }
}

/// A count a `@Sendable` closure can bump.
private final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  var value: Int { lock.withLock { count } }
  func increment() { lock.withLock { count += 1 } }
}
