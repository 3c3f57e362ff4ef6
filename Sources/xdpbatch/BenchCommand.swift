import ArgumentParser
import BPF
import Foundation
import Lab

/// `xdpbatch bench`: what each part costs, always next to a reference
/// measured in the same run (``Lab/BenchRun`` measures; this prints).
struct BenchCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure the engine, the kernel and the rewriter side by side.")

  @Option(
    help: """
      The directory of compiled samples (default: build/samples here, or beside the \
      executable or above it).
      """)
  var samples: String?

  @Option(help: "The object for the interpreter head-to-head (default: xdp1.o of the samples).")
  var object: String?

  @Option(help: "The program in it.")
  var program = "xdp_prog1"

  @Option(help: "Generated frames for the interpreter head-to-head.")
  var packets = 2_000

  @Option(help: "Seed of the frame generator.")
  var seed: UInt64 = 1

  @Option(help: "Kernel test runs per frame (BPF_PROG_TEST_RUN repeat).")
  var repetitions: UInt32 = 1_000

  @Option(help: "Seconds of live traffic per sample (0 skips the live figure).")
  var duration = 1.0

  @Option(help: "Seconds of full-speed traffic per row of the datapath section.")
  var datapathSeconds = 2.0

  @Option(
    help: """
      Traffic generator threads for the datapath section, on CPUs 0 to N-1 (default: one \
      per CPU).
      """)
  var datapathSenders: Int?

  @Option(
    parsing: .upToNextOption,
    help: """
      Frames per RX batch of the datapath section's paced rows (1 to 64 each): the datapath \
      and the bare loop both wait for that many frames an RX batch.
      """)
  var datapathBatches: [Int] = DatapathBench.defaultPacedBatches

  @Option(
    help: """
      Rounds per row of the datapath section's software datapath: the row's seconds split \
      into N alternations of its bare loop and the datapath; the row is the round with the \
      median capacity ratio.
      """)
  var datapathRounds = DatapathBench.defaultRounds

  @Flag(help: "Leave out the datapath section (software datapath on a veth pair).")
  var skipDatapath = false

  @Flag(help: "Measure only the datapath section.")
  var onlyDatapath = false

  @Flag(
    help: ArgumentHelp(
      "Also time the kernel's rounds with its run statistics on (BPF_ENABLE_STATS).",
      discussion: """
        A figure in steps of 1/repeat ns beside the test run's whole-ns duration, of a \
        program run between two clock reads (not the goal's figure). Statistics are \
        machine-wide while held: every BPF program on the machine pays the clock reads \
        meanwhile.
        """))
  var kernelStatistics = false

  @Flag(help: "Print one JSON document.")
  var json = false

  @OptionGroup var engineOption: EngineOption

  func validate() throws {
    guard packets > 0 else { throw ValidationError("--packets must be at least 1") }
    guard duration >= 0 else { throw ValidationError("--duration must not be negative") }
    guard datapathSeconds > 0 else { throw ValidationError("--datapath-seconds must be positive") }
    guard !datapathBatches.isEmpty, datapathBatches.allSatisfy({ (1...64).contains($0) }) else {
      throw ValidationError("--datapath-batches takes frames per RX batch from 1 to 64")
    }
    guard (1...15).contains(datapathRounds) else {
      throw ValidationError("--datapath-rounds takes 1 to 15 rounds")
    }
    guard !(skipDatapath && onlyDatapath) else {
      throw ValidationError("--skip-datapath and --only-datapath exclude each other")
    }
  }

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    let progress = Progress()
    var bench = BenchRun(
      samples: try samplesDirectory(), object: object, program: program, packets: packets,
      seed: seed, repetitions: repetitions, liveSeconds: duration, datapathSeconds: datapathSeconds,
      datapathSenders: datapathSenders, engine: engineOption.engine)
    bench.datapathBatches = datapathBatches
    bench.datapathRounds = datapathRounds
    bench.kernelStatistics = kernelStatistics
    if onlyDatapath {
      let section = bench.measureDatapath(progress: progress.reporter)
      progress.note("done")
      print(json ? try JSONCoding.document(DatapathReport(datapath: section)) : section.text)
      return
    }
    let report = try bench.measure(datapath: !skipDatapath, progress: progress.reporter)
    progress.note("done")
    if json {
      print(try JSONCoding.document(report))
      return
    }
    print(report.conditions.line)
    print()
    print(report.interpreter.text)
    print()
    print(SampleFigures.table(report.samples, engine: report.conditions.engine))
    print()
    print(report.engines.table)
    print()
    print(BatchingFigure.table(report.batching))
    print()
    print(RunnerFigure.table(report.runner))
    print()
    print(RewriteTiming.table(report.rewriter))
    if let datapath = report.datapath {
      print()
      print(datapath.text)
    }
  }

  /// `--samples`, else the bundled samples (``SampleDirectory``).
  private func samplesDirectory() throws -> SampleDirectory {
    if let samples { return SampleDirectory(path: samples) }
    guard let found = SampleDirectory.find() else {
      throw BenchCommandError.noSamples(SampleDirectory.buildFolder)
    }
    return found
  }
}

/// Why the bench could not start.
enum BenchCommandError: Error, CustomStringConvertible {
  case noSamples(String)

  var description: String {
    switch self {
    case .noSamples(let directory):
      "no compiled samples in \(directory); run `make samples` or pass --samples DIR"
    }
  }
}

/// Progress lines on stderr, each with the seconds since the bench began.
struct Progress {
  let start = ContinuousClock.now

  func step(_ text: String) { note(text + " ...") }

  func note(_ text: String) {
    let seconds = (ContinuousClock.now - start).components.seconds
    writeToStandardError("bench [\(seconds)s] \(text)")
  }

  /// The bench's reports, printed here.
  var reporter: BenchProgress {
    let progress = self
    return BenchProgress(step: { progress.step($0) }, note: { progress.note($0) })
  }
}
