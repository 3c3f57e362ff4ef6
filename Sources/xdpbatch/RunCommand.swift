import ArgumentParser
import BPF
import Engine
import Foundation
import Frames
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
    let frames = try inputFrames()
    let file = try BPFObject(contentsOf: object)
    let linked = try file.xdpProgram(named: program ?? file.onlyXDPProgramName(file: object))
    let plan = try executionPlan(for: linked, form: form)
    let context = RunFailure.Context(
      object: object, program: linked.name, batchProgram: plan.batchProgram)

    let machine: Machine
    let prepared: PreparedProgram
    let runner: PacketRunner
    do {
      machine = try Machine(
        maps: file.maps, configuration: MachineConfiguration(engine: engineOption.engine))
      prepared = try machine.prepare(plan.program, form: form)
      runner = try PacketRunner(
        machine: machine, program: prepared, form: form, batchSize: batch)
      runner.padsPartialBatches = rewrite.bound == .immediate
    } catch {
      throw RunFailure(context: context, reason: "\(error)")
    }
    let start = ContinuousClock.now
    let report: RunReport
    do {
      report = try runner.run(frames)
    } catch {
      throw RunFailure(context: context, error)
    }
    let elapsed = ContinuousClock.now - start
    engineOption.reportFallback(machine)

    var summary = RunSummary(
      program: linked.name, form: form, report: report, elapsed: elapsed,
      maps: maps ? machine.maps.compactMap(MapListing.init) : nil,
      batch: form == .batch
        ? RunSummary.BatchSettings(
          strategy: rewrite.strategy.rawValue, bound: rewrite.bound.rawValue, size: batch) : nil)
    if verdicts {
      summary.verdicts = report.outcomes.map { outcome in
        outcome.action.name + (outcome.returnValue > 4 ? " (returned \(outcome.returnValue))" : "")
      }
    }
    if let write {
      try Self.writeFrames(report.outcomes, to: write)
    }
    if json {
      print(try summary.json())
    } else {
      print(summary.text(source: pcap ?? "\(frames.count) generated frames (seed \(seed))"))
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

  /// The frames of the pcap file, or freshly generated ones.
  private func inputFrames() throws -> [[UInt8]] {
    if let pcap {
      switch Result(catching: { () throws(PcapError) in try PcapFile(path: pcap) }) {
      case .success(let file): return file.packets
      case .failure(.unreadable(let path)): throw RunFailure(message: "\(path): cannot read file")
      case .failure(let error): throw RunFailure(message: "\(pcap): \(error)")
      }
    }
    var generator = FrameGenerator(seed: seed)
    return generator.frames(packets ?? 1000)
  }

  /// What the engine runs: the program as compiled, or its batch form.
  private struct ExecutionPlan {
    var program: Program
    var batchProgram: BatchProgram?
  }

  private func executionPlan(for linked: Program, form: Form) throws
    -> ExecutionPlan
  {
    guard form == .batch else { return ExecutionPlan(program: linked) }
    let bound = rewrite.bound
    let trampoline = BatchTrampoline(strategy: rewrite.strategy, bound: bound, batchSize: batch)
    do {
      let rewritten = try trampoline.rewrite(linked)
      return ExecutionPlan(program: rewritten.program, batchProgram: rewritten)
    } catch {
      throw RunFailure(
        message: "\(object): program \(linked.name): cannot build the batch form: \(error)")
    }
  }
}

/// A failed `xdpbatch run`, with a message naming the object, the program,
/// the packet and the instruction.
struct RunFailure: Error, CustomStringConvertible {
  /// Where the failure happened.
  struct Context {
    var object: String
    var program: String
    /// The batch form, to translate its instruction indices back.
    var batchProgram: BatchProgram?
  }

  let description: String

  init(message: String) { description = message }

  init(context: Context, reason: String) {
    description = "\(context.object): program \(context.program): \(reason)"
  }

  init(context: Context, _ error: RunError) {
    var reason = error.description
    if case .execution(_, let execution) = error, let batch = context.batchProgram,
      let index = execution.instructionIndex
    {
      if let original = batch.originalLocations.firstIndex(of: index) {
        reason += " (instruction \(original) of the program as compiled)"
      } else {
        reason += " (in the batch trampoline's own code)"
      }
    }
    self.init(context: context, reason: reason)
  }
}

extension ExecutionError {
  /// The instruction the error names.
  var instructionIndex: Int? {
    switch self {
    case .memoryFault(let index, _, _, _), .instructionBudgetExceeded(let index, _),
      .callDepthExceeded(let index, _), .fellOffEnd(let index), .helperFault(let index, _, _):
      index
    }
  }
}
