import ArgumentParser
import BPF
import Engine
import Foundation
import Frames
import Lab
import Rewriter

/// `xdpbatch run`: runs one XDP program of an object in the engine, offline,
/// over seeded generated frames or the frames of a pcap file, per packet or
/// rewritten into its batch form, and reports what it did with them.
struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run an XDP program in the engine over generated frames or a pcap file.",
    discussion: """
      Prints packets and bytes per action, the engine's nanoseconds per packet and,
      with --maps, every map entry afterwards. --form batch rewrites the program with
      the batch trampoline (see `xdpbatch rewrite`) and runs it over batches of records.
      The old spelling --mode per-packet|batch still works for this release, with a
      warning; --mode means native/generic (as in attach, xdp-loader and bpftool).
      """)

  @Argument(help: "A BPF object file (clang -target bpf -O2 -g).")
  var object: String

  @Option(help: "The program to run (default: the object's only XDP program).")
  var program: String?

  @Option(
    help: "per-packet (one call a packet, the default) or batch (one call a batch of records).")
  var form: Form?

  @Option(help: ArgumentHelp("Deprecated spelling of --form.", visibility: .hidden))
  var mode: String?

  @Option(help: "Generate this many frames (default 1000 when no --pcap is given).")
  var packets: Int?

  @Option(help: "Run over the frames of this classic pcap file instead of generated ones.")
  var pcap: String?

  @Option(help: "Seed of the frame generator.")
  var seed: UInt64 = 1

  @OptionGroup var rewrite: BatchRewriteOptions

  @Option(name: .customLong("batch"), help: "Batch form: records per batch (1...64, default 64).")
  var batchChoice: Int?

  /// Records per batch: `--batch`, or 64.
  var batch: Int { batchChoice ?? PacketRunner.maximumBatch }

  @Flag(help: "Also print every map entry after the run (key and value in hex).")
  var maps = false

  @Flag(help: "Print one JSON document.")
  var json = false

  @OptionGroup var engineOption: EngineOption

  @Flag(help: "Also print each frame's verdict (JSON: \"verdicts\", one per frame).")
  var verdicts = false

  @Flag(
    help:
      "Print what the program printed with bpf_trace_printk, before the report (JSON: \"trace\" and \"trace_dropped\"); past 4 MiB of lines per 4,096 frames the oldest are dropped and counted."
  )
  var trace = false

  @Option(
    name: .shortAndLong,
    help:
      "Write the frames as the program left them to FILE (pcapng with each verdict in a comment; classic pcap when FILE ends in .pcap)."
  )
  var write: String?

  @OptionGroup var memory: MemoryOption

  func validate() throws {
    if try selectedForm() == .perPacket, rewrite.isGiven || batchChoice != nil {
      throw ValidationError(
        "--strategy, --bound and --batch shape the batch form and do nothing per packet; give --form batch or leave them out"
      )
    }
    guard (1...PacketRunner.maximumBatch).contains(batch) else {
      throw ValidationError("--batch must be between 1 and \(PacketRunner.maximumBatch)")
    }
    if pcap != nil, packets != nil {
      throw ValidationError("give either --packets or --pcap, not both")
    }
    if let packets, packets < 1 { throw ValidationError("--packets must be at least 1") }
  }

  /// The form asked for: `--form`, or the deprecated `--mode per-packet|batch`.
  func selectedForm() throws -> Form {
    guard let mode else { return form ?? .perPacket }
    guard form == nil else {
      throw ValidationError("give --form only (--mode per-packet|batch is its deprecated spelling)")
    }
    if let legacy = Form(rawValue: mode) { return legacy }
    if AttachMode(spelling: mode) != nil {
      throw ValidationError(
        "run executes the program in the engine, not attached to an interface: --mode \(mode) is an attach mode; choose the form with --form per-packet|batch"
      )
    }
    throw ValidationError("--form must be per-packet or batch, not '\(mode)'")
  }

  func run() throws {
    let form = try selectedForm()
    if let mode {
      writeToStandardError(
        "xdpbatch: warning: `run --mode \(mode)` is deprecated and will mean the attach mode; use `--form \(mode)`"
      )
    }
    memory.apply()
    let file = try BPFObject(contentsOf: object)
    let linked = try file.xdpProgram(named: program ?? file.onlyXDPProgramName(file: object))
    let run = EngineRun(
      program: linked, maps: file.maps, form: form,
      trampoline: BatchTrampoline(
        strategy: rewrite.strategy, bound: rewrite.bound, batchSize: batch),
      engine: engineOption.engine)
    let outcome: EngineRun.Outcome
    let source: String
    var traced: [String] = []
    let printTrace: (([String]) -> Void)? =
      !trace ? nil : json ? { traced += $0 } : { print($0.joined(separator: "\n")) }
    do {
      if let pcap {
        let frames = try pcapFrames(pcap)
        source = pcap
        outcome = try run.run(frames, trace: printTrace)
      } else {
        // Frames are made as they run: a million of them used to take
        // 1.3 GB before the object was even read.
        let count = packets ?? 1000
        source = "\(count) generated frames (seed \(seed))"
        outcome = try run.run(
          generating: count, with: FrameGenerator(seed: seed),
          keepingOutcomes: verdicts || write != nil, trace: printTrace)
      }
    } catch let error as EngineRunError {
      throw RunFailure(object: object, program: linked.name, error)
    }
    let report = outcome.report
    let machine = outcome.machine
    engineOption.reportFallback(machine)

    var summary = RunSummary(
      program: linked.name, form: form, report: report, elapsed: outcome.elapsed,
      maps: maps ? machine.maps.compactMap(MapListing.init) : nil,
      batch: form == .batch
        ? RunSummary.BatchSettings(
          strategy: rewrite.strategy.rawValue, bound: rewrite.bound.rawValue, size: batch) : nil)
    if verdicts {
      summary.verdicts = report.outcomes.map { outcome in
        outcome.action.name + (outcome.returnValue > 4 ? " (returned \(outcome.returnValue))" : "")
      }
    }
    if trace {
      summary.trace = json ? traced : nil
      summary.traceDropped = machine.traceLog.dropped
    }
    if let write {
      try Self.writeFrames(report.outcomes, to: write)
    }
    if json {
      print(try summary.json())
    } else {
      print(summary.text(source: source))
    }
  }

  /// Writes each outcome's output frame, with its verdict (pcapng comment).
  static func writeFrames(_ outcomes: [PacketOutcome], to path: String) throws {
    let format = CaptureFileFormat(layout: path.hasSuffix(".pcap") ? .pcap : .pcapng)
    var bytes = format.header()
    for outcome in outcomes {
      bytes += format.record(
        .init(
          bytes: outcome.output,
          comment: "verdict: XDP_\(outcome.action.name.uppercased())"))
    }
    try OutputFile.write(bytes, to: path)
  }

  /// The frames of a pcap file.
  private func pcapFrames(_ pcap: String) throws -> [[UInt8]] {
    switch Result(catching: { () throws(PcapError) in try PcapFile(path: pcap) }) {
    case .success(let file): return file.packets
    case .failure(.unreadable(let path)): throw RunFailure(message: "\(path): cannot read file")
    case .failure(let error): throw RunFailure(message: "\(pcap): \(error)")
    }
  }
}

/// A failed `xdpbatch run`: what failed, after the object and the program.
struct RunFailure: Error, CustomStringConvertible {
  let description: String

  init(message: String) { description = message }

  init(object: String, program: String, _ error: EngineRunError) {
    description = "\(object): program \(program): \(error)"
  }
}
