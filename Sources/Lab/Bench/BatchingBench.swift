import BPF
import Engine
import Rewriter

/// The talk's experiment on the JIT: one program's ns per packet in
/// per-packet form, called the three ways a driver can call it, against
/// its batch form called once per batch of 64, over the same frames in
/// memory. Used by `xdpbatch bench`.
public enum BatchingBench {
  /// One call style's figures.
  public struct Row: Sendable {
    /// How the per-packet form was called.
    public var call: CallStyle
    /// Per-packet form, ns per packet.
    public var perPacketNanoseconds: Double
    /// Batch form (one call per 64 packets), ns per packet.
    public var batchNanoseconds: Double
    /// Per-packet over batch.
    public var speedup: Double { perPacketNanoseconds / max(batchNanoseconds, 1e-9) }
  }

  /// Measures `program` over 64 of `frames` (repeated when fewer), each form
  /// called `repeats` times over them; the best of `rounds` is kept.
  public static func run(
    _ program: Program, maps: [MapDefinition], frames: [[UInt8]], repeats: Int = 1_000,
    rounds: Int = 7
  ) throws -> [Row] {
    let size = PacketRunner.maximumBatch
    let batchForm = try BatchTrampoline(batchSize: size).rewrite(program).program
    let machine = try Machine(maps: maps, configuration: MachineConfiguration(engine: .jit))
    let single = try machine.prepare(program)
    let batch = try machine.prepare(batchForm, form: .batch)
    let runner = try PacketRunner(
      machine: machine, program: batch, form: .batch, batchSize: size)
    // Every record of the batch holds a frame (the `immediate` bound runs all 64).
    let packets = (0..<size).map { frames[$0 % frames.count] }[...]
    let records = runner.stage(packets)
    let perPacketRecords = Array([[UInt64]](repeating: records, count: repeats).joined())
    let batchRecords = [UInt64](repeating: records[0], count: repeats)
    let count = Double(records.count * repeats)
    let batchLoop = try DispatchLoop(
      machine: machine, program: batch, style: .direct, r2: Int32(records.count))
    let styles = try CallStyle.allCases.map { style in
      try DispatchLoop(machine: machine, program: single, style: style)
    }
    // The four loops take turns, round after round, and each keeps its
    // fastest round: load from other work on a shared machine then falls
    // on all of them alike.
    let runs: [(loop: DispatchLoop, records: [UInt64])] =
      [(batchLoop, batchRecords)] + styles.map { ($0, perPacketRecords) }
    var fastest = [Double](repeating: .infinity, count: runs.count)
    for round in 0...rounds {
      for (index, run) in runs.enumerated() {
        _ = runner.stage(packets)
        let elapsed = try ContinuousClock().measure { try run.loop.run(records: run.records) }
        let (seconds, attoseconds) = elapsed.components
        let nanoseconds = (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / count
        if round > 0 { fastest[index] = min(fastest[index], nanoseconds) }  // round 0 warms up
      }
    }
    return CallStyle.allCases.enumerated().map { index, style in
      Row(
        call: style, perPacketNanoseconds: fastest[index + 1], batchNanoseconds: fastest[0])
    }
  }
}
