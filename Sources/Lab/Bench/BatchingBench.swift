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
    /// Batch form (one call per 64 packets), ns per packet; nil when the
    /// rewriter refuses the program.
    public var batchNanoseconds: Double?
    /// Why the program has no batch form (the rewriter's refusal), if so.
    public var batchRefusal: String?
    /// A program that only returns (``KernelBench``'s empty program),
    /// called the same way over the same records in the same rounds, ns
    /// per packet: the call, prologue and epilogue the per-packet figure
    /// includes, as the kernel's empty program measures its test-run loop.
    public var emptyNanoseconds: Double? = nil
    /// Per-packet over batch.
    public var speedup: Double? {
      batchNanoseconds.map { perPacketNanoseconds / max($0, 1e-9) }
    }
  }

  /// Measures `program` over 64 of `frames` (repeated when fewer), each form
  /// called `repeats` times over them; the best of `rounds` is kept. A
  /// program the rewriter refuses (a tail call never returns to the batch
  /// loop) gets its per-packet figures alone, with the refusal.
  public static func run(
    _ program: Program, maps: [MapDefinition], frames: [[UInt8]], repeats: Int = 1_000,
    rounds: Int = 7
  ) throws -> [Row] {
    let size = PacketRunner.maximumBatch
    let batchForm: Program?
    var refusal: String?
    do {
      batchForm = try BatchTrampoline(batchSize: size).rewrite(program).program
    } catch {
      (batchForm, refusal) = (nil, "\(error)")
    }
    let machine = try Machine(maps: maps, configuration: MachineConfiguration(engine: .jit))
    let single = try machine.prepare(program)
    let batch = try batchForm.map { try machine.prepare($0, form: .batch) }
    // A batch runner's 64 records, staged for the driver loops (nothing
    // runs through the runner itself).
    let runner = try PacketRunner(
      machine: machine, program: batch ?? single, form: .batch, batchSize: size)
    // Every record of the batch holds a frame (the `immediate` bound runs all 64).
    let packets = (0..<size).map { frames[$0 % frames.count] }[...]
    let records = runner.stage(packets)
    let perPacketRecords = Array([[UInt64]](repeating: records, count: repeats).joined())
    let batchRecords = [UInt64](repeating: records[0], count: repeats)
    let count = Double(records.count * repeats)
    let batchLoop = try batch.map {
      try DispatchLoop(machine: machine, program: $0, style: .direct, r2: Int32(records.count))
    }
    let styles = try CallStyle.allCases.map { style in
      try DispatchLoop(machine: machine, program: single, style: style)
    }
    let empty = try machine.prepare(KernelBench.emptyProgram)
    let empties = try CallStyle.allCases.map { style in
      try DispatchLoop(machine: machine, program: empty, style: style)
    }
    // The loops take turns, round after round, and each keeps its fastest
    // round: load from other work on a shared machine then falls on all
    // of them alike.
    let runs: [(loop: DispatchLoop, records: [UInt64])] =
      styles.map { ($0, perPacketRecords) } + (batchLoop.map { [($0, batchRecords)] } ?? [])
      + empties.map { ($0, perPacketRecords) }
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
    let styleCount = CallStyle.allCases.count
    let emptyStart = runs.count - styleCount
    return CallStyle.allCases.enumerated().map { index, style in
      Row(
        call: style, perPacketNanoseconds: fastest[index],
        batchNanoseconds: batch == nil ? nil : fastest[styleCount], batchRefusal: refusal,
        emptyNanoseconds: fastest[emptyStart + index])
    }
  }
}
