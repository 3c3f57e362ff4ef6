import BPF
import Deployment
import Engine
import Frames
import Kernel

/// A figure measured once a round in interleaved rounds, summarised by its
/// median and quartiles (`bench --json`: `median`, `low_quartile`,
/// `high_quartile`, `rounds`). Unlike ``RoundRatios`` its values may be 0
/// or negative: a net figure is a difference of two timings, and a
/// program that costs less than the noise between them comes out near 0
/// on either side.
public struct RoundSpread: Encodable, Sendable, Equatable {
  /// The median of the rounds' values.
  public var median: Double
  /// The value a quarter of the rounds are below.
  public var lowQuartile: Double
  /// The value a quarter of the rounds are above.
  public var highQuartile: Double
  /// Rounds measured.
  public var rounds: Int

  /// Summarises `values`, one per round; nil when there are none or one is
  /// not finite.
  public init?(_ values: [Double]) {
    guard !values.isEmpty, values.allSatisfy(\.isFinite) else { return nil }
    let sorted = values.sorted()
    median = RoundRatios.quantile(sorted, 0.5)
    lowQuartile = RoundRatios.quantile(sorted, 0.25)
    highQuartile = RoundRatios.quantile(sorted, 0.75)
    rounds = sorted.count
  }

  /// Per round, `minuends[i] - subtrahends[i]`: a net figure from two forms
  /// timed in the same round; nil when the counts differ.
  public init?(_ minuends: [Double], minus subtrahends: [Double]) {
    guard minuends.count == subtrahends.count else { return nil }
    self.init(zip(minuends, subtrahends).map { $0 - $1 })
  }
}

/// The kernel's figures for one program from interleaved rounds of test
/// runs (``KernelBench/netFigure(_:)``): the program and the empty program
/// test-run back to back on the same frame, so each round's net pairs two
/// timings taken at the same CPU speed.
public struct KernelNetFigure: Encodable, Sendable, Equatable {
  /// The clock of `gross`, `empty` and `net` (``KernelTimer``): the test
  /// run's `duration`, statistics off.
  public var timer: KernelTimer
  /// The program's ns per packet, its per-round averages over the round's
  /// frames (test-run loop included).
  public var gross: RoundSpread
  /// The empty program's, in the same rounds: the test-run loop's cost.
  public var empty: RoundSpread
  /// Per round, the program's average less the empty program's: what the
  /// kernel's JIT spends in the program. Its median is the net figure.
  public var net: RoundSpread
  /// The same programs and frames test-run again in each round with the
  /// kernel's run statistics on, timed by them; nil when the kernel
  /// refused them (``statisticsRefusal``).
  public var runTimeStatistics: ClockFigures?
  /// The kernel's refusal of `BPF_ENABLE_STATS`, when it refused.
  public var statisticsRefusal: String?
  /// Test runs of the `duration` pass (warm-up round included) during
  /// which the kernel counted runs: another holder (a console, an
  /// exporter, a test, another bench) had its statistics on, so those
  /// test runs ran inside the statistics' bracket and their `duration`
  /// is not a statistics-off figure. 0 when none was.
  public var durationTestRunsCounted = 0
  /// Per round, the engine's JIT on the same program: its ns per packet
  /// called directly by the machine-code driver (``DispatchLoop``) on the
  /// round's frames, each repeated as the kernel's test run repeats it,
  /// less the empty program's called the same way, both timed in that
  /// round between the kernel's test runs; nil when the JIT could not run
  /// it.
  public var jitNet: RoundSpread?
  /// The JIT's per-round figures of which ``jitNet`` is the difference:
  /// the program's ns per packet called by the driver loop (call,
  /// prologue and loop included) and the empty program's; nil with it.
  public var jitGross: RoundSpread?
  public var jitEmpty: RoundSpread?
  /// Why the engine's JIT has no figure: it could not prepare or compile
  /// the program, or a run stopped with an error (then the rounds before
  /// it are dropped too: ``jitNet`` takes only whole series).
  public var jitRefusal: String?
  /// Per round, the kernel's own JIT code of the program, copied into this
  /// process (``KernelCodeCopy``) and called by a driver as the JIT's is,
  /// on the same frames repeated the same way, less the kernel's code of
  /// the empty program called the same way, both timed in that round
  /// (``KernelCodePair``): the like-with-like kernel figure for
  /// ``jitNet``. Nil when the copy cannot run (``kernelCodeRefusal``).
  public var kernelCodeNet: RoundSpread?
  /// The per-round figures of which ``kernelCodeNet`` is the difference.
  public var kernelCodeGross: RoundSpread?
  public var kernelCodeEmpty: RoundSpread?
  /// Why the kernel's code of the program could not be copied and run
  /// (``KernelCodeRefusal``), when it could not.
  public var kernelCodeRefusal: String?

  /// Figures by one clock: the program's, the empty program's and their
  /// per-round difference.
  public struct ClockFigures: Encodable, Sendable, Equatable {
    public var timer: KernelTimer
    public var gross: RoundSpread
    public var empty: RoundSpread
    public var net: RoundSpread

    init?(timer: KernelTimer, program: [Double], empty: [Double]) {
      guard let gross = RoundSpread(program), let loop = RoundSpread(empty),
        let net = RoundSpread(program, minus: empty)
      else { return nil }
      self.timer = timer
      self.gross = gross
      self.empty = loop
      self.net = net
    }
  }

  /// The figures of rounds whose averages were `program[i]` and
  /// `empty[i]` by `timer`, the statistics' `statisticsProgram[i]` and
  /// `statisticsEmpty[i]` by `statisticsTimer` when given, and the JIT's
  /// `jitProgram[i]` and `jitEmpty[i]` when given; nil when there are no
  /// rounds or the counts differ.
  public init?(
    program: [Double], empty: [Double], timer: KernelTimer = .testRunDuration,
    statisticsProgram: [Double]? = nil, statisticsEmpty: [Double]? = nil,
    statisticsTimer: KernelTimer = .runTimeStatistics(repeat: 20_000),
    jitProgram: [Double]? = nil, jitEmpty: [Double]? = nil,
    kernelCodeProgram: [Double]? = nil, kernelCodeEmpty: [Double]? = nil
  ) {
    guard let figures = ClockFigures(timer: timer, program: program, empty: empty) else {
      return nil
    }
    self.timer = timer
    gross = figures.gross
    self.empty = figures.empty
    net = figures.net
    if let statisticsProgram, let statisticsEmpty {
      guard statisticsProgram.count == program.count,
        let figures = ClockFigures(
          timer: statisticsTimer, program: statisticsProgram, empty: statisticsEmpty)
      else { return nil }
      runTimeStatistics = figures
    }
    if let jitProgram, let jitEmpty {
      guard jitProgram.count == program.count else { return nil }
      jitNet = RoundSpread(jitProgram, minus: jitEmpty)
      self.jitGross = RoundSpread(jitProgram)
      self.jitEmpty = RoundSpread(jitEmpty)
    }
    if let kernelCodeProgram, let kernelCodeEmpty {
      guard kernelCodeProgram.count == program.count else { return nil }
      kernelCodeNet = RoundSpread(kernelCodeProgram, minus: kernelCodeEmpty)
      kernelCodeGross = RoundSpread(kernelCodeProgram)
      self.kernelCodeEmpty = RoundSpread(kernelCodeEmpty)
    }
  }

  /// Whether the net figure is too small for its clock to resolve
  /// (``KernelTimer/cannotResolve(_:)``).
  public var belowResolution: Bool { timer.cannotResolve(net.median) }
}

/// How the kernel's net figures were test-run (`bench --json` key
/// `engines.kernel_test_run`): the same for every program and the empty
/// program it is measured against.
public struct KernelTestRunSettings: Encodable, Sendable, Equatable {
  /// `BPF_PROG_TEST_RUN`'s `repeat`: runs of the program on one frame in
  /// one test run, the kernel's figure their average.
  public var `repeat`: UInt32
  /// Frames test-run in one round (a slice of the mix, the next slice the
  /// next round).
  public var framesPerRound: Int
  /// Test runs of each program on each frame of a round (the fastest kept).
  public var tries: Int
  /// Rounds kept (one more warms up first).
  public var rounds: Int
  /// `BPF_F_TEST_XDP_LIVE_FRAMES`: never set; the kernel builds the frame
  /// once per test run and runs the program `repeat` times on it, so
  /// there is no batch size.
  public var liveFrames: Bool = false
  /// The clock of the rounds' net figures (the samples' `kernel_rounds`
  /// timer); nil before any was test-run.
  public var timer: KernelTimer? = nil
  /// The second clock of each round, the kernel's run statistics (on only
  /// while a round's second pass runs); nil when refused or not measured.
  public var runTimeStatistics: KernelTimer? = nil
  /// The kernel's refusal of `BPF_ENABLE_STATS`, when it refused.
  public var statisticsRefusal: String? = nil
}

extension KernelBench {
  /// The settings of ``netFigure(_:)``.
  public var testRunSettings: KernelTestRunSettings {
    KernelTestRunSettings(
      repeat: repetitions, framesPerRound: min(Self.framesPerRound, max(frames.count, 1)),
      tries: Self.tries, rounds: netRounds)
  }

  /// The settings, with the clock the samples' rounds were timed by
  /// (their first; every sample's rounds try the same clock).
  public func testRunSettings(timedBy rows: [SampleFigures]) -> KernelTestRunSettings {
    var settings = testRunSettings
    guard let rounds = rows.lazy.compactMap(\.kernelRounds).first else { return settings }
    settings.timer = rounds.timer
    settings.runTimeStatistics = rounds.runTimeStatistics?.timer
    settings.statisticsRefusal = rounds.statisticsRefusal
    return settings
  }

  /// Frames per round: one of each of the classifier mix's five kinds.
  static let framesPerRound = 5
  /// Test runs of each program per frame and round.
  static let tries = 2

  /// `source`'s program and the empty program (``emptyProgram``), both
  /// loaded as compiled, test-run in ``netRounds`` interleaved rounds
  /// after one that warms up. A round takes the next slice of
  /// ``framesPerRound`` frames of ``frames`` (the slices in turn); on each
  /// frame the two programs run back to back, ``tries`` times each, the
  /// order alternating, and each keeps its fastest test run (a test run
  /// of a 20,000 `repeat` lasts about a millisecond; the RCU grace period
  /// of the dispatcher swap around it some 30 ms, so a round of 20 test
  /// runs stays well inside one of the CPU's speed periods, 0.2 s and
  /// more). A round's figure per program is its average over the slice.
  /// Both programs go through the same test-run path with the same
  /// frame, `repeat` and flags, timed by the test run's `duration` with
  /// the kernel's run statistics off (``KernelClock``). With
  /// ``kernelStatistics``, each round then
  /// test-runs the slice a second time, the same way, with statistics on
  /// and timed by them (the passes' order alternating by round; statistics
  /// off again before the round goes on): a figure in steps of 1/`repeat`
  /// ns, but of the program run between two `sched_clock()` reads, which
  /// moves what it costs (``KernelNetFigure/runTimeStatistics``; not the
  /// goal's figure). The same estimator for both: each frame's faster
  /// try, the round's average over its frames, the median of the rounds'
  /// differences with quartiles; `duration`'s whole nanoseconds survive
  /// the min and the median, so a net under a few of them is flagged
  /// (``KernelNetFigure/belowResolution``). Each round also times the
  /// engine's JIT on the same program and on the empty program, on the
  /// same slice, each frame's record called `repeat` times in a row and
  /// by the same estimator (``JITPair``: before the test runs in even
  /// rounds, after them in odd ones), so the JIT's net and the kernel's
  /// come from the same rounds, at the same CPU speed, on the same frames
  /// repeated the same way. Beside the JIT's pair, each round times the
  /// kernel's own code of both programs copied into this process and
  /// called the same way (``KernelCodePair``, ``KernelNetFigure/kernelCodeNet``),
  /// when the sample's code can run here (else the figure says why).
  public func netFigure(_ source: ProgramSource) throws(KernelBenchError) -> KernelNetFigure? {
    let spec: ProgramSpec
    do {
      spec = try source.compiledSpec()
    } catch {
      throw .source(error)
    }
    return try netFigure(spec, source: source)
  }

  private func netFigure(_ spec: ProgramSpec, source: ProgramSource) throws(KernelBenchError)
    -> KernelNetFigure?
  {
    guard !frames.isEmpty else { return nil }
    let loaded: ProgramLoader.Loaded
    let empty: ProgramLoader.Loaded
    do {
      loaded = try spec.load()
      empty = try ProgramSpec(program: Self.emptyProgram, maps: []).load()
    } catch {
      throw .load(error)
    }
    let programs = [loaded.program, empty.program]
    let kernelCode: KernelCodePair?
    var kernelCodeRefusal: String? = nil
    do {
      kernelCode = try KernelCodePair(
        program: loaded.program, instructions: spec.program.instructions, empty: empty.program,
        repetitions: repetitions)
    } catch {
      kernelCode = nil
      kernelCodeRefusal = error.description
    }
    let settings = testRunSettings
    var jit: JITPair?
    var jitRefusal: String? = nil
    do {
      jit = try JITPair(source: source, repetitions: repetitions)
    } catch {
      jitRefusal = "the engine's JIT cannot run it: \(error)"
    }
    /// The JIT's figures of one round; a run that stops with an error
    /// ends the JIT's timing with the error as its reason.
    func timeJIT(_ frames: [[UInt8]], round: Int) -> [Double]? {
      do {
        return try jit?.time(frames, round: round, tries: settings.tries)
      } catch {
        jit = nil
        jitRefusal = "a run of the engine's JIT stopped: \(error)"
        return nil
      }
    }
    let slices = stride(from: 0, to: frames.count, by: settings.framesPerRound).map {
      Array(frames[$0..<min($0 + settings.framesPerRound, frames.count)])
    }
    let plain = KernelClock.duration(repetitions: repetitions)
    var refusal: String? = nil
    var countedElsewhere = 0
    var averages: [[Double]] = [[], []]
    var statistics: [[Double]] = [[], []]
    var jitBest: [[Double]] = [[], []]
    var kernelCodeBest: [[Double]] = [[], []]
    /// One pass over `slice` by `clock`: each program's average over the
    /// frames of its faster try per frame.
    func pass(_ slice: [FrameTemplate], round: Int, clock: KernelClock) throws(KernelBenchError)
      -> [Double]
    {
      var sums = [0.0, 0.0]
      for (index, frame) in slice.enumerated() {
        var best = [Double.infinity, .infinity]
        for attempt in 0..<settings.tries {
          let order = (round + index + attempt) % 2 == 0 ? [0, 1] : [1, 0]
          for which in order {
            let timed = try clock.run(programs[which], frame: frame.bytes)
            best[which] = min(best[which], timed.nanoseconds)
            if clock.timer == .testRunDuration, timed.counted > 0 { countedElsewhere += 1 }
          }
        }
        for which in 0..<2 { sums[which] += best[which] }
      }
      return sums.map { $0 / Double(slice.count) }
    }
    /// The pass with the kernel's statistics on, off again before it
    /// returns; nil once the kernel refused them.
    func statisticsPass(_ slice: [FrameTemplate], round: Int) throws(KernelBenchError)
      -> [Double]?
    {
      guard kernelStatistics, refusal == nil else { return nil }
      let clock: KernelClock
      do {
        clock = try KernelClock.statistics(repetitions: repetitions)
      } catch {
        refusal = "\(error)"
        return nil
      }
      defer { clock.end() }
      return try pass(slice, round: round, clock: clock)
    }
    for round in 0...settings.rounds {
      // The JIT's pair first in even rounds, after the test runs in odd
      // ones; statistics off for the first pass in even rounds, the
      // second in odd ones.
      var jitRound: [Double]? = nil
      var kernelCodeRound: [Double]? = nil
      let slice = slices[(round + slices.count - 1) % slices.count]
      let jitFrames = slice.map(\.bytes)
      if round % 2 == 0 {
        jitRound = timeJIT(jitFrames, round: round)
        kernelCodeRound = kernelCode?.time(jitFrames, round: round, tries: settings.tries)
      }
      let timed: [Double]
      let counted: [Double]?
      if round % 2 == 0 {
        timed = try pass(slice, round: round, clock: plain)
        counted = try statisticsPass(slice, round: round)
      } else {
        counted = try statisticsPass(slice, round: round)
        timed = try pass(slice, round: round, clock: plain)
      }
      if round % 2 == 1 {
        kernelCodeRound = kernelCode?.time(jitFrames, round: round, tries: settings.tries)
        jitRound = timeJIT(jitFrames, round: round)
      }
      guard round > 0 else { continue }  // round 0 warms up
      for which in 0..<2 {
        averages[which].append(timed[which])
        if let counted { statistics[which].append(counted[which]) }
      }
      if let jitRound { for which in 0..<2 { jitBest[which].append(jitRound[which]) } }
      if let kernelCodeRound {
        for which in 0..<2 { kernelCodeBest[which].append(kernelCodeRound[which]) }
      }
    }
    // The descriptors (and the sample's maps) close only after the rounds.
    withExtendedLifetime((loaded, empty)) {}
    let jitTimed = jitBest[0].count == averages[0].count
    let kernelCodeTimed = kernelCodeBest[0].count == averages[0].count
    let statisticsTimed = statistics[0].count == averages[0].count
    var figure = KernelNetFigure(
      program: averages[0], empty: averages[1],
      statisticsProgram: statisticsTimed ? statistics[0] : nil,
      statisticsEmpty: statisticsTimed ? statistics[1] : nil,
      statisticsTimer: .runTimeStatistics(repeat: repetitions),
      jitProgram: jitTimed ? jitBest[0] : nil, jitEmpty: jitTimed ? jitBest[1] : nil,
      kernelCodeProgram: kernelCodeTimed ? kernelCodeBest[0] : nil,
      kernelCodeEmpty: kernelCodeTimed ? kernelCodeBest[1] : nil)
    figure?.statisticsRefusal = refusal
    figure?.kernelCodeRefusal = kernelCodeRefusal
    figure?.jitRefusal = jitRefusal
    figure?.durationTestRunsCounted = countedElsewhere
    return figure
  }
}
