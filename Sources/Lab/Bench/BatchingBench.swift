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
    /// Per-packet over batch, one ratio per round (the two forms timed
    /// back to back); nil without a batch form.
    public var speedupRounds: RoundRatios?
    /// A program that only returns (``KernelBench``'s empty program),
    /// called the same way over the same records in the same rounds, ns
    /// per packet (its fastest round): the call, prologue and epilogue the
    /// per-packet figure includes, as the kernel's empty program measures
    /// its test-run loop.
    public var emptyNanoseconds: Double? = nil
    /// Per round, the per-packet form less the empty program (both timed
    /// in that round): the JIT's net figure is its median, from rounds of
    /// the same kind as the kernel's (``KernelNetFigure``).
    public var netRounds: RoundSpread? = nil
    /// Per-packet over batch: the median of the rounds' ratios.
    public var speedup: Double? { speedupRounds?.median }
  }

  /// Measures `program` over 64 of `frames` (repeated when fewer), each form
  /// called `repeats` times over them, in `rounds` interleaved rounds of
  /// three tries each after one that warms up (``InterleavedRounds``): a
  /// form's ns figure is its fastest round, its speedup the median of the
  /// rounds' per-packet over batch ratios (``RoundRatios``). A program the rewriter refuses (a tail call never
  /// returns to the batch loop) gets its per-packet figures alone, with
  /// the refusal.
  public static func run(
    _ program: Program, maps: [MapDefinition], frames: [[UInt8]], repeats: Int = 1_000,
    rounds: Int = 15
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
    // The loops take turns in short rounds (``InterleavedRounds``); each
    // round's figures are compared with each other only.
    let runs: [(loop: DispatchLoop, records: [UInt64])] =
      styles.map { ($0, perPacketRecords) } + (batchLoop.map { [($0, batchRecords)] } ?? [])
      + empties.map { ($0, perPacketRecords) }
    let clock = ContinuousClock()
    let timings = try InterleavedRounds.measure(forms: runs.count, rounds: rounds) { index in
      _ = runner.stage(packets)
      let calls = runs[index].loop.calls(runs[index].records)
      let elapsed = try clock.measure { try runs[index].loop.run(calls) }
      return elapsed.nanoseconds / count
    }
    let styleCount = CallStyle.allCases.count
    let emptyStart = runs.count - styleCount
    return CallStyle.allCases.enumerated().map { index, style in
      Row(
        call: style, perPacketNanoseconds: timings[index].min() ?? .infinity,
        batchNanoseconds: batch == nil ? nil : timings[styleCount].min(), batchRefusal: refusal,
        speedupRounds: batch == nil ? nil : RoundRatios(timings[index], over: timings[styleCount]),
        emptyNanoseconds: timings[emptyStart + index].min(),
        netRounds: RoundSpread(timings[index], minus: timings[emptyStart + index]))
    }
  }
}
