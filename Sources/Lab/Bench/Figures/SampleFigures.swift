import BPF
import Deployment
import Engine
import Foundation
import Rewriter

/// One sample program's figures in `xdpbatch bench`: the kernel's
/// nanoseconds per packet and live Mpps on a veth, each next to the
/// engine's nanoseconds per packet for the same program and frames.
public struct SampleFigures: Encodable, Sendable {
  public var object: String
  public var program: String
  public var engineNanosecondsPerPacket: Double?
  public var engineBatchNanosecondsPerPacket: Double?
  /// The median of the program's per-round test-run averages
  /// (``kernelRounds``' `gross`).
  public var kernelNanosecondsPerPacket: Double?
  /// The median of the rounds' differences between the program and the
  /// empty program test-run back to back (``kernelRounds``' `net`): what
  /// the kernel's JIT spends in the program, without the test-run loop.
  /// Not clamped: a program that costs less than the rounds' noise can
  /// come out below 0.
  public var kernelNetNanosecondsPerPacket: Double?
  /// The rounds the two figures above are the medians of
  /// (``KernelBench/netFigure(_:)``), with their quartiles.
  public var kernelRounds: KernelNetFigure?
  public var liveMpps: Double?
  public var notes: [String] = []
  /// The packet runner's figure in the JIT (for the engines table).
  public var jitRunnerNanosecondsPerPacket: Double?

  /// The engine's per-packet cost over the kernel's, when both exist.
  public var engineKernelRatio: Double? {
    guard let engine = engineNanosecondsPerPacket, let kernel = kernelNanosecondsPerPacket,
      kernel > 0
    else { return nil }
    return engine / kernel
  }

  private enum CodingKeys: String, CodingKey {
    case object, program, notes, liveMpps, kernelRounds
    case engineNanosecondsPerPacket = "engineNsPerPacket"
    case engineBatchNanosecondsPerPacket = "engineBatchNsPerPacket"
    case kernelNanosecondsPerPacket = "kernelNsPerPacket"
    case kernelNetNanosecondsPerPacket = "kernelNetNsPerPacket"
  }

  /// The engine's figures for `source` over `frames`, per packet and in
  /// the default batch form; what cannot be measured becomes a note.
  public static func engine(_ source: ProgramSource, frames: [[UInt8]], engine: EngineKind)
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

  /// The kernel's figures from `figure`'s rounds: the medians of the
  /// program's averages and of the nets.
  mutating func takeKernel(_ figure: KernelNetFigure) {
    kernelRounds = figure
    kernelNanosecondsPerPacket = figure.gross.median
    kernelNetNanosecondsPerPacket = figure.net.median
  }

  /// Fills in the kernel's figures (test-run ns per packet, raw and net of
  /// the empty program test-run in the same rounds, and live Mpps when
  /// `live`); what fails becomes a note on its row.
  public static func addKernel(
    to rows: inout [SampleFigures], sources: [ProgramSource], bench: KernelBench, live: Bool
  ) {
    var measurable: [Int] = []
    for (index, source) in sources.enumerated() {
      do {
        if let figure = try bench.netFigure(source) { rows[index].takeKernel(figure) }
        _ = try source.instrumentedSpec()  // live runs need the counting pass
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
}
