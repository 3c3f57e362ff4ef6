import BPF
import Bench
import Control
import Engine
import Foundation
import Rewriter

/// One sample program's figures in `xdpbatch bench`: the kernel's
/// nanoseconds per packet and live Mpps on a veth, each next to the
/// engine's nanoseconds per packet for the same program and frames.
struct SampleFigures: Encodable {
  var object: String
  var program: String
  var engineNanosecondsPerPacket: Double?
  var engineBatchNanosecondsPerPacket: Double?
  var kernelNanosecondsPerPacket: Double?
  var liveMpps: Double?
  var notes: [String] = []
  /// The packet runner's figure in the JIT (for the engines table).
  var jitRunnerNanosecondsPerPacket: Double?

  /// The engine's per-packet cost over the kernel's, when both exist.
  var engineKernelRatio: Double? {
    guard let engine = engineNanosecondsPerPacket, let kernel = kernelNanosecondsPerPacket,
      kernel > 0
    else { return nil }
    return engine / kernel
  }

  enum CodingKeys: String, CodingKey {
    case object, program, notes
    case engineNanosecondsPerPacket = "engine_ns_per_packet"
    case engineBatchNanosecondsPerPacket = "engine_batch_ns_per_packet"
    case kernelNanosecondsPerPacket = "kernel_ns_per_packet"
    case liveMpps = "live_mpps"
  }

  /// The engine's figures for `source` over `frames`, per packet and in
  /// the default batch form; what cannot be measured becomes a note.
  static func engine(_ source: ProgramSource, frames: [[UInt8]], engine: EngineKind)
    -> SampleFigures
  {
    var row = SampleFigures(
      object: URL(fileURLWithPath: source.objectPath).lastPathComponent,
      program: source.programName)
    do {
      let object = try BPFObject(contentsOf: source.objectPath)
      let program = try object.program(named: source.programName)
      row.engineNanosecondsPerPacket = try PacketBench.run(
        program, maps: object.maps, form: .perPacket, packets: frames, engine: engine
      ).nanosecondsPerPacket
      row.jitRunnerNanosecondsPerPacket =
        engine == .jit
        ? row.engineNanosecondsPerPacket
        : try PacketBench.run(
          program, maps: object.maps, form: .perPacket, packets: frames, engine: .jit
        ).nanosecondsPerPacket
      let size = PacketRunner.maximumBatch
      let batch = try BatchTrampoline(batchSize: size).rewrite(program)
      row.engineBatchNanosecondsPerPacket = try PacketBench.run(
        batch.program, maps: object.maps, form: .batch, batchSize: size, packets: frames,
        engine: engine
      ).nanosecondsPerPacket
    } catch {
      row.notes.append("engine: \(error)")
    }
    return row
  }

  /// Fills in the kernel's figures (test-run ns per packet, and live Mpps
  /// when `live`); what fails becomes a note on its row.
  static func addKernel(
    to rows: inout [SampleFigures], sources: [ProgramSource], bench: KernelBench,
    live: Bool
  ) {
    var measurable: [Int] = []
    for (index, source) in sources.enumerated() {
      do {
        rows[index].kernelNanosecondsPerPacket = try bench.nanosecondsPerPacket(source)
        _ = try source.request()  // live runs need the counting pass
        measurable.append(index)
      } catch {
        rows[index].notes.append("kernel: \(error)")
      }
    }
    guard live, !measurable.isEmpty else { return }
    do {
      let rates = try bench.liveRates(measurable.map { sources[$0] })
      for (index, rate) in zip(measurable, rates) { rows[index].liveMpps = rate }
    } catch {
      for index in measurable { rows[index].notes.append("live: \(error)") }
    }
  }

  /// The rows as a table.
  static func table(_ rows: [SampleFigures]) -> String {
    func cell(_ value: Double?, _ format: String, width: Int) -> String {
      let text = value.map { String(format: format, $0) } ?? "-"
      return String(repeating: " ", count: max(width - text.count, 0)) + text
    }
    var lines = [
      "PROGRAM".padding(toLength: 44, withPad: " ", startingAt: 0)
        + "  ENGINE ns/pkt  BATCH ns/pkt  KERNEL ns/pkt  ENGINE/KERNEL  LIVE Mpps"
    ]
    for row in rows {
      lines.append(
        "\(row.object):\(row.program)".padding(toLength: 44, withPad: " ", startingAt: 0)
          + cell(row.engineNanosecondsPerPacket, "%.1f", width: 15)
          + cell(row.engineBatchNanosecondsPerPacket, "%.1f", width: 14)
          + cell(row.kernelNanosecondsPerPacket, "%.1f", width: 15)
          + cell(row.engineKernelRatio, "%.1fx", width: 15)
          + cell(row.liveMpps, "%.3f", width: 11))
      for note in row.notes { lines.append("    \(note)") }
    }
    return lines.joined(separator: "\n")
  }
}
