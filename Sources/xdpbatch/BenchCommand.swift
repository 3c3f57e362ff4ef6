import ArgumentParser
import BPF
import Bench
import Control
import Engine
import Foundation
import Frames
import Rewriter

#if canImport(Glibc)
  import Glibc
#endif

/// `xdpbatch bench`: what each part costs, always next to a reference
/// measured in the same run (the kernel, or the other mode).
///
/// - Interpreter: ns per instruction on a compute loop, and xdp1's ns per
///   packet per-packet and in batch form, against the kernel's test run on
///   the same frames.
/// - Samples: every bundled program's engine ns per packet (both modes)
///   next to the kernel's, and live Mpps on a veth pair (native XDP).
/// - Rewriter: the time to rewrite a 4,000-instruction program, per
///   strategy and bound.
/// - Datapath: the software datapath at saturation on a veth pair, next to
///   the kernel's native XDP and a bare AF_XDP loop (``DatapathBench``).
///
/// Kernel figures need root and BPF; without them they are skipped with
/// the reason, and the engine and rewriter figures still print.
struct BenchCommand: ParsableCommand {
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

  @Flag(help: "Leave out the datapath section (software datapath on a veth pair).")
  var skipDatapath = false

  @Flag(help: "Measure only the datapath section.")
  var onlyDatapath = false

  @Flag(help: "Print one JSON document.")
  var json = false

  @OptionGroup var engineOption: EngineOption

  func validate() throws {
    guard packets > 0 else { throw ValidationError("--packets must be at least 1") }
    guard duration >= 0 else { throw ValidationError("--duration must not be negative") }
    guard datapathSeconds > 0 else { throw ValidationError("--datapath-seconds must be positive") }
    guard !(skipDatapath && onlyDatapath) else {
      throw ValidationError("--skip-datapath and --only-datapath exclude each other")
    }
  }

  func run() throws {
    let progress = Progress()
    let directory = try samplesDirectory()
    if onlyDatapath {
      let section = DatapathSection.measure(
        samples: directory, seconds: datapathSeconds, engine: engineOption.engine,
        senders: datapathSenders, progress: progress)
      progress.note("done")
      if json {
        print(try Self.encode(DatapathDocument(datapath: section)))
      } else {
        print(section.text)
      }
      return
    }
    progress.step("interpreter head-to-head")
    let interpreter = try interpreterReport(directory)
    let sampleRows = try sampleFigures(directory, progress)
    let batching = BatchingFigure.measure(
      try sampleSources(directory), frames: KernelBench().frames.map(\.bytes), progress: progress)
    progress.step("engines")
    let engines = try EngineComparison.measure(samples: sampleRows, batching: batching)
    progress.step("rewriter")
    let rewriter = try RewriterBench.run()
    let datapath =
      skipDatapath
      ? nil
      : DatapathSection.measure(
        samples: directory, seconds: datapathSeconds, engine: engineOption.engine,
        senders: datapathSenders, progress: progress)
    progress.note("done")
    if json {
      let report = BenchDocument(
        interpreter: interpreter, samples: sampleRows,
        rewriter: rewriter.map(RewriteTiming.init), engines: engines, batching: batching,
        datapath: datapath)
      print(try Self.encode(report))
    } else {
      print(interpreter.text)
      print()
      print(SampleFigures.table(sampleRows))
      print()
      print(engines.table)
      print()
      print(BatchingFigure.table(batching))
      print()
      print(RewriteTiming.table(rewriter.map(RewriteTiming.init)))
      if let datapath {
        print()
        print(datapath.text)
      }
    }
  }

  private static func encode(_ document: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(document), as: UTF8.self)
  }

  /// `--samples`, else the first `build/samples` (or `samples`) found in
  /// the working directory, beside the executable or in a directory above it.
  private func samplesDirectory() throws -> String {
    if let samples { return samples }
    let manager = FileManager.default
    var candidates = [manager.currentDirectoryPath]
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
      .deletingLastPathComponent()
    for _ in 0..<5 {
      candidates.append(directory.path)
      directory = directory.deletingLastPathComponent()
    }
    for base in candidates {
      for relative in ["build/samples", "samples"] {
        let path = base + "/" + relative
        if (try? manager.contentsOfDirectory(atPath: path))?.contains(where: { $0.hasSuffix(".o") })
          == true
        {
          return path
        }
      }
    }
    throw BenchCommandError.noSamples("build/samples")
  }

  private func interpreterReport(_ directory: String) throws -> InterpreterReport {
    let object = self.object ?? directory + "/xdp1.o"
    let file = try BPFObject(contentsOf: object)
    let linked = try file.program(named: program)
    var generator = FrameGenerator(seed: seed)
    let frames = generator.frames(packets)
    let engine = try EngineFigures.measure(
      linked, maps: file.maps, frames: frames, engine: engineOption.engine)
    // Few test runs with large repeat counts: each run costs ~28 ms of
    // dispatcher swapping in the kernel, whatever its repeat count.
    let kernel = KernelFigures.measure(
      linked, maps: file.maps, license: file.license, frames: Array(frames.prefix(32)),
      repetitions: repetitions * 20)
    return InterpreterReport(
      object: object, program: linked.name, packets: frames.count, engine: engine, kernel: kernel)
  }

  private func sampleFigures(_ directory: String, _ progress: Progress) throws -> [SampleFigures] {
    let sources = try sampleSources(directory)
    let bench = KernelBench(repetitions: repetitions * 20, liveDuration: duration)
    let frames = bench.frames.map(\.bytes)
    progress.step("samples in the engine (\(engineOption.engine))")
    var rows = sources.map { SampleFigures.engine($0, frames: frames, engine: engineOption.engine) }
    if getuid() == 0 {
      progress.step("samples in the kernel (test runs, then \(duration) s of live traffic each)")
      SampleFigures.addKernel(to: &rows, sources: sources, bench: bench, live: duration > 0)
    } else {
      for index in rows.indices {
        rows[index].notes.append("kernel: skipped (needs root for BPF_PROG_LOAD and test runs)")
      }
    }
    return rows
  }

  /// Every XDP program of every object in the samples directory.
  private func sampleSources(_ samples: String) throws -> [ProgramSource] {
    let files = try FileManager.default.contentsOfDirectory(atPath: samples)
      .filter { $0.hasSuffix(".o") }.sorted()
    guard !files.isEmpty else {
      throw BenchCommandError.noSamples(samples)
    }
    return try files.flatMap { file in
      let path = samples + "/" + file
      return try BPFObject(contentsOf: path).programEntries.filter(\.isXDP).map {
        ProgramSource(objectPath: path, programName: $0.name)
      }
    }
  }
}

/// Everything `bench --json` prints.
struct BenchDocument: Encodable {
  var interpreter: InterpreterReport
  var samples: [SampleFigures]
  var rewriter: [RewriteTiming]
  var engines: EngineComparison
  var batching: [BatchingFigure]
  /// Absent with `--skip-datapath`.
  var datapath: DatapathSection?
}

/// What `bench --only-datapath --json` prints.
struct DatapathDocument: Encodable {
  var datapath: DatapathSection
}

/// One rewriter variant's timing, in milliseconds.
struct RewriteTiming: Encodable {
  var strategy: String
  var bound: String
  var instructions: Int
  var medianMilliseconds: Double
  var minimumMilliseconds: Double

  init(_ result: RewriterBench.Result) {
    strategy = result.strategy.rawValue
    bound = result.bound.rawValue
    instructions = result.instructions
    medianMilliseconds = result.medianNanoseconds / 1e6
    minimumMilliseconds = result.minimumNanoseconds / 1e6
  }

  enum CodingKeys: String, CodingKey {
    case strategy, bound, instructions
    case medianMilliseconds = "median_ms"
    case minimumMilliseconds = "minimum_ms"
  }

  static func table(_ rows: [RewriteTiming]) -> String {
    var lines = ["REWRITE (\(rows.first?.instructions ?? 0) instructions)   median ms   minimum ms"]
    for row in rows {
      lines.append(
        "\(row.strategy) / \(row.bound)".padding(toLength: 33, withPad: " ", startingAt: 0)
          + String(format: "%11.2f  %11.2f", row.medianMilliseconds, row.minimumMilliseconds))
    }
    return lines.joined(separator: "\n")
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
