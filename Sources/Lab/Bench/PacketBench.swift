import BPF
import Engine
import Kernel

/// The engine's cost per packet for a program over a list of packets: what
/// `xdpbatch bench` sets next to the kernel's figure for the same program
/// and packets.
public enum PacketBench {
  /// One measurement.
  public struct Result: Sendable {
    /// Packets per round.
    public var packets: Int
    /// Instructions one round executed.
    public var instructions: Int
    /// Wall time of the fastest round, in nanoseconds.
    public var nanoseconds: Double

    /// Nanoseconds per packet.
    public var nanosecondsPerPacket: Double { nanoseconds / Double(max(packets, 1)) }
    /// Nanoseconds per executed instruction (runner overhead included).
    public var nanosecondsPerInstruction: Double { nanoseconds / Double(max(instructions, 1)) }
  }

  /// Runs `packets` through `program` once to warm up, then `rounds` more
  /// times on the same machine, and keeps the fastest round (the least
  /// disturbed by other work on a shared machine).
  ///
  /// `program` is run as given: pass the batch form (from
  /// `BatchTrampoline`) with `form: .batch` and its batch size.
  public static func run(
    _ program: Program, maps: [MapDefinition], form: Form,
    batchSize: Int = PacketRunner.maximumBatch, packets: [[UInt8]], rounds: Int = 5,
    engine: EngineKind = .platformDefault
  ) throws -> Result {
    let machine = try Machine(maps: maps, configuration: MachineConfiguration(engine: engine))
    let runner = try PacketRunner(
      machine: machine, program: machine.prepare(program, form: form), form: form,
      batchSize: batchSize)
    var instructions = try runner.run(packets).instructions
    var best = Double.infinity
    let clock = ContinuousClock()
    for _ in 0..<max(rounds, 1) {
      var report: RunReport?
      let elapsed = try clock.measure { report = try runner.run(packets) }
      best = min(best, elapsed.nanoseconds)
      instructions = report?.instructions ?? instructions
    }
    return Result(packets: packets.count, instructions: instructions, nanoseconds: best)
  }
}
