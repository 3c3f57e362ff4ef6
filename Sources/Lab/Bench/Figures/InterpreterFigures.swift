import BPF
import Engine
import Foundation
import Frames
import Kernel
import Rewriter

/// The engine's figures for the interpreter head-to-head: pure Swift, no
/// privileges.
public struct EngineFigures: Encodable, Sendable {
  /// The engine of the program's figures (the loop is the interpreter's).
  public var engine: String
  /// Nanoseconds per instruction on the compute loop.
  public var nanosecondsPerInstruction: Double
  /// Instructions of the compute loop's run.
  public var loopInstructions: Int
  /// The program per packet, ns per packet.
  public var perPacketNanoseconds: Double
  /// Its batch form (64 a call), ns per packet.
  public var batchNanoseconds: Double
  /// Instructions the per-packet form executes per packet.
  public var perPacketInstructions: Double

  /// Measures the compute loop in the interpreter (best of three) and
  /// `program` over `frames` in `engine`, per packet and in batch form.
  public static func measure(
    _ program: Program, maps: [MapDefinition], frames: [[UInt8]], engine: EngineKind
  ) throws -> EngineFigures {
    _ = try InterpreterBench.run(iterations: 200_000)  // warm-up
    let loop = try (0..<3).map { _ in try InterpreterBench.run() }
      .min { $0.nanosecondsPerInstruction < $1.nanosecondsPerInstruction }
    let single = try PacketBench.run(
      program, maps: maps, form: .perPacket, packets: frames, engine: engine)
    let batchSize = PacketRunner.maximumBatch
    let batchForm = try BatchTrampoline(batchSize: batchSize).rewrite(program)
    let batch = try PacketBench.run(
      batchForm.program, maps: maps, form: .batch, batchSize: batchSize, packets: frames,
      engine: engine)
    return EngineFigures(
      engine: "\(engine)", nanosecondsPerInstruction: loop?.nanosecondsPerInstruction ?? 0,
      loopInstructions: loop?.instructions ?? 0,
      perPacketNanoseconds: single.nanosecondsPerPacket,
      batchNanoseconds: batch.nanosecondsPerPacket,
      perPacketInstructions: Double(single.instructions) / Double(max(frames.count, 1)))
  }

  private enum CodingKeys: String, CodingKey {
    case engine, loopInstructions
    case nanosecondsPerInstruction = "nsPerInstruction"
    case perPacketNanoseconds = "perPacketNsPerPacket"
    case batchNanoseconds = "batchNsPerPacket"
    case perPacketInstructions = "instructionsPerPacket"
  }
}

/// The kernel's figure for the same program and frames
/// (`BPF_PROG_TEST_RUN`), or why there is none.
public enum KernelFigures: Encodable, Sendable {
  /// The kernel's average per run over the frames.
  case measured(nanosecondsPerPacket: Double, repetitions: UInt32)
  /// Not measured, and why.
  case skipped(String)

  /// The measured figure, if any.
  public var nanosecondsPerPacket: Double? {
    if case .measured(let nanoseconds, _) = self { nanoseconds } else { nil }
  }

  /// Loads `program` as compiled and test-runs it `repetitions` times on
  /// each frame; skipped without root.
  public static func measure(
    _ program: Program, maps: [MapDefinition], license: String?, frames: [[UInt8]],
    repetitions: UInt32
  ) -> KernelFigures {
    guard Privileges.isRoot else { return .skipped("needs root for BPF_PROG_LOAD and test runs") }
    do {
      let loaded = try ProgramLoader(maps: maps, license: license ?? "GPL").load(program)
      var total = 0.0
      for frame in frames {
        let result = try TestRun(frame: frame, repetitions: repetitions).run(loaded.program)
        total += Double(result.nanosecondsPerRun)
      }
      return .measured(
        nanosecondsPerPacket: total / Double(max(frames.count, 1)), repetitions: repetitions)
    } catch {
      return .skipped("\(error)")
    }
  }

  private enum CodingKeys: String, CodingKey {
    case repetitions, skipped
    case nanosecondsPerPacket = "nsPerPacket"
  }

  /// `{"ns_per_packet", "repetitions"}` (to a tenth of a nanosecond), or
  /// `{"skipped": REASON}`.
  public func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .measured(let nanoseconds, let repetitions):
      try container.encode((nanoseconds * 10).rounded() / 10, forKey: .nanosecondsPerPacket)
      try container.encode(repetitions, forKey: .repetitions)
    case .skipped(let reason):
      try container.encode(reason, forKey: .skipped)
    }
  }
}

/// The engine and the kernel on one program and the same frames, and the
/// engine/kernel ratios when both exist.
public struct InterpreterReport: Encodable, Sendable {
  /// The object.
  public var object: String
  /// The program.
  public var program: String
  /// Frames run.
  public var packets: Int
  /// The engine's figures.
  public var engine: EngineFigures
  /// The kernel's.
  public var kernel: KernelFigures
  /// The engine/kernel ratios to a hundredth, when the kernel was measured.
  public var ratio: Ratio?

  /// Engine ns per packet over the kernel's, per form.
  public struct Ratio: Encodable, Sendable {
    /// The per-packet form's.
    public var perPacket: Double
    /// The batch form's.
    public var batch: Double
  }

  /// Describes a head-to-head; the ratios follow from the figures.
  public init(
    object: String, program: String, packets: Int, engine: EngineFigures, kernel: KernelFigures
  ) {
    self.object = object
    self.program = program
    self.packets = packets
    self.engine = engine
    self.kernel = kernel
    ratio = nil
    ratio = ratios.map {
      Ratio(perPacket: round($0.perPacket * 100) / 100, batch: round($0.batch * 100) / 100)
    }
  }

  /// Engine ns per packet divided by the kernel's (per packet, batch).
  public var ratios: (perPacket: Double, batch: Double)? {
    guard case .measured(let kernelNanoseconds, _) = kernel, kernelNanoseconds > 0 else {
      return nil
    }
    return (
      engine.perPacketNanoseconds / kernelNanoseconds, engine.batchNanoseconds / kernelNanoseconds
    )
  }

  /// Measures `program` of the object at `object` over `packets` frames
  /// from the generator seeded with `seed`, in `engine` and in the kernel
  /// (few test runs with large repeat counts: each run costs ~28 ms of
  /// dispatcher swapping in the kernel, whatever its repeat count).
  public static func measure(
    object: String, program: String, packets: Int, seed: UInt64, repetitions: UInt32,
    engine: EngineKind
  ) throws -> InterpreterReport {
    let file = try BPFObject(contentsOf: object)
    let linked = try file.program(named: program)
    var generator = FrameGenerator(seed: seed)
    let frames = generator.frames(packets)
    let engineFigures = try EngineFigures.measure(
      linked, maps: file.maps, frames: frames, engine: engine)
    let kernel = KernelFigures.measure(
      linked, maps: file.maps, license: file.license, frames: Array(frames.prefix(32)),
      repetitions: repetitions * 20)
    return InterpreterReport(
      object: object, program: linked.name, packets: frames.count, engine: engineFigures,
      kernel: kernel)
  }
}
