import BPF
import Bench
import Control
import Engine
import Foundation
import Rewriter

#if canImport(Glibc)
  import Glibc
#endif

// MARK: - Engine part

/// The engine's figures: pure Swift, no privileges.
struct EngineFigures: Encodable {
  var nanosecondsPerInstruction: Double
  var loopInstructions: Int
  var perPacketNanoseconds: Double
  var batchNanoseconds: Double
  var perPacketInstructions: Double

  static func measure(
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
      nanosecondsPerInstruction: loop?.nanosecondsPerInstruction ?? 0,
      loopInstructions: loop?.instructions ?? 0,
      perPacketNanoseconds: single.nanosecondsPerPacket,
      batchNanoseconds: batch.nanosecondsPerPacket,
      perPacketInstructions: Double(single.instructions) / Double(max(frames.count, 1)))
  }

  enum CodingKeys: String, CodingKey {
    case nanosecondsPerInstruction = "ns_per_instruction"
    case loopInstructions = "loop_instructions"
    case perPacketNanoseconds = "per_packet_ns_per_packet"
    case batchNanoseconds = "batch_ns_per_packet"
    case perPacketInstructions = "instructions_per_packet"
  }
}

// MARK: - Kernel part
//
// Only this part needs root and BPF. It reaches the kernel through Control
// (ProgramLoader, TestRun); a richer kernel bench (live traffic on a veth,
// every sample) belongs in Control's own bench and can replace it here.

/// The kernel's figure for the same program and frames, or why there is none.
enum KernelFigures: Encodable {
  case measured(nanosecondsPerPacket: Double, repetitions: UInt32)
  case skipped(String)

  static func measure(
    _ program: Program, maps: [MapDefinition], license: String?, frames: [[UInt8]],
    repetitions: UInt32
  ) -> KernelFigures {
    guard getuid() == 0 else { return .skipped("needs root for BPF_PROG_LOAD and test runs") }
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

  enum CodingKeys: String, CodingKey {
    case nanosecondsPerPacket = "ns_per_packet"
    case repetitions, skipped
  }

  func encode(to encoder: Encoder) throws {
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

// MARK: - Report

/// The engine and the kernel on one program and the same frames, and the
/// engine/kernel ratios when both exist.
struct InterpreterReport: Encodable {
  var object: String
  var program: String
  var packets: Int
  var engine: EngineFigures
  var kernel: KernelFigures

  /// Engine ns per packet divided by the kernel's (per packet, batch).
  var ratios: (perPacket: Double, batch: Double)? {
    guard case .measured(let kernelNanoseconds, _) = kernel, kernelNanoseconds > 0 else {
      return nil
    }
    return (
      engine.perPacketNanoseconds / kernelNanoseconds, engine.batchNanoseconds / kernelNanoseconds
    )
  }

  enum CodingKeys: String, CodingKey {
    case object, program, packets, engine, kernel, ratio
  }

  func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(object, forKey: .object)
    try container.encode(program, forKey: .program)
    try container.encode(packets, forKey: .packets)
    try container.encode(engine, forKey: .engine)
    try container.encode(kernel, forKey: .kernel)
    if let ratios {
      try container.encode(
        [
          "per_packet": round(ratios.perPacket * 100) / 100,
          "batch": round(ratios.batch * 100) / 100,
        ],
        forKey: .ratio)
    }
  }

  var text: String {
    var lines = [
      String(
        format: "engine: %.2f ns per instruction (loop of %d instructions)",
        engine.nanosecondsPerInstruction, engine.loopInstructions),
      String(
        format: "engine: %@ over %d generated frames: %.1f ns per packet per-packet "
          + "(%.1f instructions a packet), %.1f ns per packet batch (64)",
        program, packets, engine.perPacketNanoseconds, engine.perPacketInstructions,
        engine.batchNanoseconds),
    ]
    switch kernel {
    case .measured(let nanoseconds, let repetitions):
      lines.append(
        String(
          format: "kernel: %@ over the same frames: %.1f ns per packet (test run, repeat %u)",
          program, nanoseconds, repetitions))
      if let ratios {
        lines.append(
          String(
            format: "ratio engine/kernel: %.1fx per-packet, %.1fx batch", ratios.perPacket,
            ratios.batch))
      }
    case .skipped(let reason):
      lines.append("kernel: skipped (\(reason))")
    }
    return lines.joined(separator: "\n")
  }
}
