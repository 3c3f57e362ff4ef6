import BPF
import Bench
import Control
import Engine
import Foundation

/// `bench`'s engines table: the interpreter's and the JIT's ns per
/// instruction on the compute loop, and per sample the JIT's ns per packet
/// next to the kernel's (`BPF_PROG_TEST_RUN`), all from one run. The JIT's
/// per-packet figure is the program called directly by the machine-code
/// driver (the batching table's `direct` row), like the kernel's test run
/// calls it; programs with tail calls, which that driver does not run,
/// get the packet runner's figure (which adds staging and copying out).
struct EngineComparison: Encodable {
  var interpreterNanosecondsPerInstruction: Double
  var jitNanosecondsPerInstruction: Double
  /// The same loop with its two memory accesses checked (not provably in
  /// the stack frame): what the JIT's bounds checks cost.
  var jitCheckedNanosecondsPerInstruction: Double
  var kernelNanosecondsPerPacket: [String: Double]
  var jitNanosecondsPerPacket: [String: Double]

  enum CodingKeys: String, CodingKey {
    case interpreterNanosecondsPerInstruction = "interpreter_ns_per_instruction"
    case jitNanosecondsPerInstruction = "jit_ns_per_instruction"
    case jitCheckedNanosecondsPerInstruction = "jit_checked_ns_per_instruction"
    case kernelNanosecondsPerPacket = "kernel_ns_per_packet"
    case jitNanosecondsPerPacket = "jit_ns_per_packet"
  }

  /// The loop in both engines (best of three) and the sample rows' figures.
  static func measure(samples: [SampleFigures], batching: [BatchingFigure]) throws
    -> EngineComparison
  {
    func best(_ kind: EngineKind, checked: Bool = false) throws -> Double {
      _ = try InterpreterBench.run(iterations: 200_000, engine: kind, checkedMemory: checked)
      let iterations: Int32 = kind == .jit ? 20_000_000 : 2_000_000
      return try (0..<3).map { _ in
        try InterpreterBench.run(iterations: iterations, engine: kind, checkedMemory: checked)
      }
      .map(\.nanosecondsPerInstruction).min() ?? 0
    }
    var comparison = EngineComparison(
      interpreterNanosecondsPerInstruction: try best(.interpreter),
      jitNanosecondsPerInstruction: try best(.jit),
      jitCheckedNanosecondsPerInstruction: try best(.jit, checked: true),
      kernelNanosecondsPerPacket: [:],
      jitNanosecondsPerPacket: [:])
    for row in samples {
      let name = "\(row.object):\(row.program)"
      comparison.kernelNanosecondsPerPacket[name] = row.kernelNanosecondsPerPacket
      let direct = batching.first { $0.program == name && $0.call == CallStyle.direct.rawValue }
      comparison.jitNanosecondsPerPacket[name] =
        direct?.perPacketNanoseconds ?? row.jitRunnerNanosecondsPerPacket
    }
    return comparison
  }

  var table: String {
    var lines = [
      String(
        format:
          "ENGINES  compute loop: interpreter %.3f ns/insn, JIT %.3f ns/insn (%.1fx); "
          + "JIT with its 2 memory accesses checked: %.3f ns/insn",
        interpreterNanosecondsPerInstruction, jitNanosecondsPerInstruction,
        interpreterNanosecondsPerInstruction / max(jitNanosecondsPerInstruction, 1e-9),
        jitCheckedNanosecondsPerInstruction),
      "PROGRAM".padding(toLength: 44, withPad: " ", startingAt: 0)
        + "   JIT ns/pkt  KERNEL ns/pkt  JIT/KERNEL",
    ]
    for name in jitNanosecondsPerPacket.keys.sorted() {
      let jit = jitNanosecondsPerPacket[name] ?? 0
      let kernel = kernelNanosecondsPerPacket[name]
      lines.append(
        name.padding(toLength: 44, withPad: " ", startingAt: 0)
          + String(format: "%13.1f", jit)
          + (kernel.map { String(format: "%15.1f%12.2fx", $0, jit / max($0, 1e-9)) } ?? "  -"))
    }
    return lines.joined(separator: "\n")
  }
}

/// One row of the batching table (`bench --json` key `batching`).
struct BatchingFigure: Encodable {
  var program: String
  var call: String
  var perPacketNanoseconds: Double
  var batchNanoseconds: Double
  var speedup: Double

  enum CodingKeys: String, CodingKey {
    case program, call, speedup
    case perPacketNanoseconds = "per_packet_ns"
    case batchNanoseconds = "batch_ns"
  }

  /// Every sample without tail calls (the batch form refuses them), in the
  /// JIT; a sample that cannot be measured is reported on stderr.
  static func measure(_ sources: [ProgramSource], frames: [[UInt8]], progress: Progress)
    -> [BatchingFigure]
  {
    var rows: [BatchingFigure] = []
    for source in sources {
      let name =
        "\(URL(fileURLWithPath: source.objectPath).lastPathComponent):\(source.programName)"
      do {
        let object = try BPFObject(contentsOf: source.objectPath)
        let program = try object.program(named: source.programName)
        if program.instructions.contains(where: {
          $0.isHelperCall && $0.immediate == HelperFunction.tailCall.rawValue
        }) {
          progress.note("batching: \(name) skipped (tail calls have no batch form)")
          continue
        }
        progress.step("batching: \(name)")
        for row in try BatchingBench.run(program, maps: object.maps, frames: frames) {
          rows.append(
            BatchingFigure(
              program: name, call: row.call.rawValue,
              perPacketNanoseconds: row.perPacketNanoseconds,
              batchNanoseconds: row.batchNanoseconds, speedup: row.speedup))
        }
      } catch {
        progress.note("batching: \(name): \(error)")
      }
    }
    return rows
  }

  static func table(_ rows: [BatchingFigure]) -> String {
    var lines = [
      "BATCHING (JIT, batch of 64)".padding(toLength: 44, withPad: " ", startingAt: 0)
        + "  CALL        PER-PACKET ns  BATCH ns  SPEEDUP"
    ]
    for row in rows {
      lines.append(
        row.program.padding(toLength: 44, withPad: " ", startingAt: 0) + "  "
          + row.call.padding(toLength: 10, withPad: " ", startingAt: 0)
          + String(
            format: "%15.2f%10.2f%8.2fx", row.perPacketNanoseconds, row.batchNanoseconds,
            row.speedup))
    }
    return lines.joined(separator: "\n")
  }
}

/// Progress lines on stderr, each with the seconds since the bench began.
struct Progress {
  let start = ContinuousClock.now

  func step(_ text: String) { note(text + " ...") }

  func note(_ text: String) {
    let seconds = (ContinuousClock.now - start).components.seconds
    writeToStandardError("bench [\(seconds)s] \(text)")
  }
}
