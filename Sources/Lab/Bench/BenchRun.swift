import BPF
import Deployment
import Engine
import Foundation
import Kernel

/// What `xdpbatch bench` measures, and how: every figure next to a
/// reference measured in the same run (the kernel, or the other form).
///
/// - Interpreter: ns per instruction on a compute loop, and one program's
///   ns per packet per-packet and in batch form, against the kernel's
///   test run on the same frames.
/// - Samples: every bundled program's engine ns per packet (both forms)
///   next to the kernel's, and live Mpps on a veth pair (native XDP).
/// - Batching: the talk's experiment on the JIT, per call style.
/// - Rewriter: the time to rewrite a 4,000-instruction program, per
///   strategy and bound.
/// - Datapath: the software datapath at saturation on a veth pair, next to
///   the kernel's native XDP and a bare AF_XDP loop (``DatapathBench``).
///
/// Kernel figures need root and BPF; without them they are skipped with
/// the reason, and the engine and rewriter figures are still measured.
public struct BenchRun: Sendable {
  /// The compiled samples.
  public var samples: SampleDirectory
  /// The object of the interpreter head-to-head (default: the samples' xdp1.o).
  public var object: String?
  /// The program in it.
  public var program: String
  /// Generated frames for the interpreter head-to-head.
  public var packets: Int
  /// Seed of the frame generator.
  public var seed: UInt64
  /// Kernel test runs per frame.
  public var repetitions: UInt32
  /// Seconds of live traffic per sample (0 skips the live figure).
  public var liveSeconds: Double
  /// Seconds of full-speed traffic per row of the datapath section.
  public var datapathSeconds: Double
  /// Generator threads of the datapath section (nil: half the CPUs).
  public var datapathSenders: Int?
  /// The engine measured.
  public var engine: EngineKind
  /// Frames per RX batch of the datapath section's paced rows
  /// (``DatapathBench/pacedBatches``).
  public var datapathBatches = DatapathBench.defaultPacedBatches
  /// Rounds per software row of the datapath section
  /// (``DatapathBench/rounds``).
  public var datapathRounds = DatapathBench.defaultRounds
  /// Also time the kernel's rounds with its run statistics on
  /// (``KernelBench/kernelStatistics``; machine-wide while held).
  public var kernelStatistics = false

  /// Describes a run.
  public init(
    samples: SampleDirectory, object: String? = nil, program: String = "xdp_prog1",
    packets: Int = 2_000, seed: UInt64 = 1, repetitions: UInt32 = 1_000, liveSeconds: Double = 1,
    datapathSeconds: Double = 2, datapathSenders: Int? = nil,
    engine: EngineKind = .platformDefault
  ) {
    self.samples = samples
    self.object = object
    self.program = program
    self.packets = packets
    self.seed = seed
    self.repetitions = repetitions
    self.liveSeconds = liveSeconds
    self.datapathSeconds = datapathSeconds
    self.datapathSenders = datapathSenders
    self.engine = engine
  }

  /// Every section, the datapath's unless `datapath` is false.
  public func measure(datapath: Bool = true, progress: BenchProgress = .silent) throws
    -> BenchReport
  {
    let conditions = BenchConditions.now(engine: engine)
    progress.step("interpreter head-to-head")
    let interpreter = try InterpreterReport.measure(
      object: object ?? samples.object("xdp1.o"), program: program, packets: packets, seed: seed,
      repetitions: repetitions, engine: engine)
    let sources = try sampleSources()
    let (sampleRows, testRunLoop) = sampleFigures(sources, progress)
    let frames = KernelBench().frames.map(\.bytes)
    let batching = BatchingFigure.measure(sources, frames: frames, progress: progress)
    let runner = RunnerFigure.measure(
      sources, frames: frames, batching: batching, progress: progress)
    progress.step("engines")
    let engines = try EngineComparison.measure(
      samples: sampleRows, batching: batching, testRunLoop: testRunLoop,
      kernelTestRun: testRunLoop.nanosecondsPerPacket == nil
        ? nil : kernelBench.testRunSettings(timedBy: sampleRows))
    progress.step("rewriter")
    let rewriter = try RewriterBench.run()
    let datapathSection = datapath ? measureDatapath(progress: progress) : nil
    return BenchReport(
      conditions: conditions.ended(), interpreter: interpreter, samples: sampleRows,
      rewriter: rewriter.map(RewriteTiming.init), engines: engines, batching: batching,
      runner: runner, goals: GoalFigures(engines: engines, batching: batching),
      datapath: datapathSection)
  }

  /// The datapath section alone.
  public func measureDatapath(progress: BenchProgress = .silent) -> DatapathSection {
    DatapathSection.measure(
      samples: samples.path, seconds: datapathSeconds, engine: engine, senders: datapathSenders,
      pacedBatches: datapathBatches, rounds: datapathRounds, progress: progress)
  }

  /// The kernel's side: `repetitions` x 20 test runs per frame.
  var kernelBench: KernelBench {
    var bench = KernelBench(repetitions: repetitions * 20, liveDuration: liveSeconds)
    bench.kernelStatistics = kernelStatistics
    return bench
  }

  /// Every sample's figures in the engine, then in the kernel (as root).
  private func sampleFigures(_ sources: [ProgramSource], _ progress: BenchProgress)
    -> (rows: [SampleFigures], testRunLoop: KernelFigures)
  {
    let bench = kernelBench
    let frames = bench.frames.map(\.bytes)
    progress.step("samples in the engine (\(engine))")
    var rows = sources.map { SampleFigures.engine($0, frames: frames, engine: engine) }
    guard Privileges.isRoot else {
      let reason = "needs root for BPF_PROG_LOAD and test runs"
      for index in rows.indices { rows[index].notes.append("kernel: skipped (\(reason))") }
      return (rows, .skipped(reason))
    }
    progress.step(
      "samples in the kernel (test runs beside a program that only returns, "
        + "then \(liveSeconds) s of live traffic each)")
    SampleFigures.addKernel(to: &rows, sources: sources, bench: bench, live: liveSeconds > 0)
    // The test-run loop: the empty program's median over every sample's
    // rounds (each sample's net is taken against its own rounds' figure).
    let loops = rows.compactMap { $0.kernelRounds?.empty.median }.sorted()
    let testRunLoop: KernelFigures =
      loops.isEmpty
      ? .skipped("no sample was test-run")
      : .measured(
        nanosecondsPerPacket: RoundRatios.quantile(loops, 0.5), repetitions: bench.repetitions)
    return (rows, testRunLoop)
  }

  /// Every XDP program of every object in the samples folder.
  func sampleSources() throws -> [ProgramSource] {
    let objects = samples.objects
    guard !objects.isEmpty else { throw SamplesMissing(looked: [samples.path]) }
    return try objects.flatMap { path in
      try BPFObject(contentsOf: path).programEntries.filter(\.isXDP).map {
        ProgramSource(objectPath: path, programName: $0.name)
      }
    }
  }
}

/// Everything `bench --json` prints.
public struct BenchReport: Encodable, Sendable {
  /// The build, engine, machine and load the figures were measured under.
  public var conditions: BenchConditions
  /// The interpreter head-to-head.
  public var interpreter: InterpreterReport
  /// Every sample's figures.
  public var samples: [SampleFigures]
  /// The rewriter's timings.
  public var rewriter: [RewriteTiming]
  /// The engines table.
  public var engines: EngineComparison
  /// The batching table.
  public var batching: [BatchingFigure]
  /// The live runner's cost per frame by run size (``RunnerBench``).
  public var runner: [RunnerFigure]
  /// Issue 22's figures as ratios of the two tables above.
  public var goals: GoalFigures
  /// Absent with `--skip-datapath`.
  public var datapath: DatapathSection?
}

/// What `bench --only-datapath --json` prints.
public struct DatapathReport: Encodable, Sendable {
  /// The datapath section.
  public var datapath: DatapathSection

  /// Wraps the section.
  public init(datapath: DatapathSection) {
    self.datapath = datapath
  }
}

/// One rewriter variant's timing, in milliseconds.
public struct RewriteTiming: Encodable, Sendable {
  /// The stack strategy.
  public var strategy: String
  /// The loop bound.
  public var bound: String
  /// Instructions of the program rewritten.
  public var instructions: Int
  /// The median rewrite.
  public var medianMilliseconds: Double
  /// The fastest.
  public var minimumMilliseconds: Double

  /// The timing of `result`.
  public init(_ result: RewriterBench.Result) {
    strategy = result.strategy.rawValue
    bound = result.bound.rawValue
    instructions = result.instructions
    medianMilliseconds = result.medianNanoseconds / 1e6
    minimumMilliseconds = result.minimumNanoseconds / 1e6
  }

  private enum CodingKeys: String, CodingKey {
    case strategy, bound, instructions
    case medianMilliseconds = "medianMs"
    case minimumMilliseconds = "minimumMs"
  }
}
