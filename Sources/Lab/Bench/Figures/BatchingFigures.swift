import BPF
import Deployment
import Engine
import Foundation

/// `bench`'s engines table: the interpreter's and the JIT's ns per
/// instruction on the compute loop, and per sample the JIT's ns per packet
/// next to the kernel's (`BPF_PROG_TEST_RUN`), all from one run. The JIT's
/// per-packet figure is the program called directly by the machine-code
/// driver, like the kernel's test run calls it: in the kernel's own rounds
/// on the kernel's frames, each repeated as the test run repeats it
/// (``KernelNetFigure/jitGross``), where the kernel was measured; else the
/// batching table's `direct` row over the mix's records in turn, programs
/// with tail calls included (their per-packet row); a program with no
/// batching row gets the packet runner's figure (which adds staging and
/// copying out).
///
/// Both sides are compared net of their own loops: the kernel's figure less
/// its test-run loop (an empty program's test run), the JIT's less the same
/// empty program called by the same driver on the same records in the
/// same rounds. The gross JIT figure includes the driver's call, the
/// prologue and the epilogue, which the kernel's net figure does not.
public struct EngineComparison: Encodable, Sendable {
  public var interpreterNanosecondsPerInstruction: Double
  public var jitNanosecondsPerInstruction: Double
  /// The same loop with its two memory accesses checked (not provably in
  /// the stack frame): what the JIT's bounds checks cost.
  public var jitCheckedNanosecondsPerInstruction: Double
  public var kernelNanosecondsPerPacket: [String: Double]
  /// The kernel's figures less the test-run loop's own cost
  /// (``testRunLoopNanoseconds``): what the kernel's JIT spends in the
  /// program, the figure the JIT's compares with.
  public var kernelNetNanosecondsPerPacket: [String: Double]
  /// The kernel's ns per packet for a program that only returns, measured
  /// with the same frames and repeat count; nil when not measured.
  public var testRunLoopNanoseconds: Double?
  public var jitNanosecondsPerPacket: [String: Double]
  /// The checked loop over the unchecked one, round by round (the two
  /// timed back to back, ``InterpreterBench/checkedAgainstUnchecked``):
  /// `checked_over_unchecked` is its median.
  public var jitCheckedOverUncheckedRounds: RoundRatios? = nil

  /// The empty program (``KernelBench``'s `xdpbatch_empty`) called like
  /// each program's ``jitNanosecondsPerPacket`` (the `direct` row's
  /// `empty_ns`); absent where that figure is the runner's.
  public var jitEmptyNanosecondsPerPacket: [String: Double] = [:]

  /// Per round, the program less the empty program, both timed in that
  /// round by the same driver: from the kernel's rounds
  /// (``KernelNetFigure/jitNet``, timed between the same test runs as the
  /// kernel's net) where the kernel was measured, else the `direct` row's
  /// ``BatchingFigure/netRounds``.
  public var jitNetRounds: [String: RoundSpread] = [:]

  /// How the kernel's figures were test-run; nil when they were not.
  public var kernelTestRun: KernelTestRunSettings? = nil

  /// The programs whose kernel net is too small for its clock to resolve
  /// (``KernelNetFigure/belowResolution``: under a few steps of the
  /// clock), sorted; `goals` leaves their `jit_over_kernel_net` out.
  public var kernelNetBelowResolution: [String] = []

  /// The median of ``jitNetRounds``, for every program with rounds: the
  /// figure that compares with ``kernelNetNanosecondsPerPacket``, the
  /// median of the kernel's rounds of the same kind. Neither is clamped
  /// at 0.
  public var jitNetNanosecondsPerPacket: [String: Double] {
    jitNetRounds.mapValues(\.median)
  }

  /// Each sample's ``KernelNetFigure/kernelCodeNet``: the kernel's own
  /// JIT code called by a driver like the JIT's, net of the kernel's
  /// empty program called the same way, in the same rounds as
  /// ``jitNetRounds``; only samples whose code could be copied.
  public var kernelCodeNetRounds: [String: RoundSpread] = [:]

  /// The median of ``kernelCodeNetRounds``.
  public var kernelCodeNetNanosecondsPerPacket: [String: Double] {
    kernelCodeNetRounds.mapValues(\.median)
  }

  private enum CodingKeys: String, CodingKey {
    case interpreterNanosecondsPerInstruction = "interpreterNsPerInstruction"
    case jitNanosecondsPerInstruction = "jitNsPerInstruction"
    case jitCheckedNanosecondsPerInstruction = "jitCheckedNsPerInstruction"
    case jitCheckedOverUncheckedRounds
    case kernelNanosecondsPerPacket = "kernelNsPerPacket"
    case kernelNetNanosecondsPerPacket = "kernelNetNsPerPacket"
    case testRunLoopNanoseconds = "kernelTestRunLoopNs"
    case jitNanosecondsPerPacket = "jitNsPerPacket"
    case jitEmptyNanosecondsPerPacket = "jitEmptyNsPerPacket"
    case jitNetNanosecondsPerPacket = "jitNetNsPerPacket"
    case jitNetRounds, kernelTestRun, kernelNetBelowResolution
    case kernelCodeNetNanosecondsPerPacket = "kernelCodeNetNsPerPacket"
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(
      interpreterNanosecondsPerInstruction, forKey: .interpreterNanosecondsPerInstruction)
    try container.encode(jitNanosecondsPerInstruction, forKey: .jitNanosecondsPerInstruction)
    try container.encode(
      jitCheckedNanosecondsPerInstruction, forKey: .jitCheckedNanosecondsPerInstruction)
    try container.encode(kernelNanosecondsPerPacket, forKey: .kernelNanosecondsPerPacket)
    try container.encode(kernelNetNanosecondsPerPacket, forKey: .kernelNetNanosecondsPerPacket)
    try container.encode(testRunLoopNanoseconds, forKey: .testRunLoopNanoseconds)
    try container.encode(jitNanosecondsPerPacket, forKey: .jitNanosecondsPerPacket)
    try container.encode(jitEmptyNanosecondsPerPacket, forKey: .jitEmptyNanosecondsPerPacket)
    try container.encode(jitNetNanosecondsPerPacket, forKey: .jitNetNanosecondsPerPacket)
    try container.encode(jitCheckedOverUncheckedRounds, forKey: .jitCheckedOverUncheckedRounds)
    try container.encode(jitNetRounds, forKey: .jitNetRounds)
    try container.encode(kernelTestRun, forKey: .kernelTestRun)
    try container.encode(kernelNetBelowResolution, forKey: .kernelNetBelowResolution)
    try container.encode(
      kernelCodeNetNanosecondsPerPacket, forKey: .kernelCodeNetNanosecondsPerPacket)
  }

  /// The loop in the interpreter (best of three), in the JIT unchecked
  /// and checked (interleaved rounds), and the sample rows' figures.
  public static func measure(
    samples: [SampleFigures], batching: [BatchingFigure], testRunLoop: KernelFigures,
    kernelTestRun: KernelTestRunSettings? = nil
  ) throws -> EngineComparison {
    func best(_ kind: EngineKind) throws -> Double {
      _ = try InterpreterBench.run(iterations: 200_000, engine: kind)
      return try (0..<3).map { _ in try InterpreterBench.run(iterations: 2_000_000, engine: kind) }
        .map(\.nanosecondsPerInstruction).min() ?? 0
    }
    let jit = try InterpreterBench.checkedAgainstUnchecked()
    var comparison = EngineComparison(
      interpreterNanosecondsPerInstruction: try best(.interpreter),
      jitNanosecondsPerInstruction: jit.unchecked,
      jitCheckedNanosecondsPerInstruction: jit.checked,
      kernelNanosecondsPerPacket: [:], kernelNetNanosecondsPerPacket: [:],
      testRunLoopNanoseconds: testRunLoop.nanosecondsPerPacket, jitNanosecondsPerPacket: [:],
      jitCheckedOverUncheckedRounds: jit.ratios)
    comparison.kernelTestRun = kernelTestRun
    comparison.take(samples: samples, batching: batching)
    return comparison
  }

  /// Each sample's kernel figures from its row, and its JIT figures
  /// (gross, empty and net) from the same rounds as the kernel's when the
  /// kernel was measured, else from its `direct` batching row, or the
  /// runner's gross figure where it has none.
  mutating func take(samples: [SampleFigures], batching: [BatchingFigure]) {
    for row in samples {
      let name = "\(row.object):\(row.program)"
      kernelNanosecondsPerPacket[name] = row.kernelNanosecondsPerPacket
      kernelNetNanosecondsPerPacket[name] = row.kernelNetNanosecondsPerPacket
      kernelCodeNetRounds[name] = row.kernelRounds?.kernelCodeNet
      if row.kernelRounds?.belowResolution == true {
        kernelNetBelowResolution = (kernelNetBelowResolution + [name]).sorted()
      }
      let direct = batching.first { $0.program == name && $0.call == CallStyle.direct.rawValue }
      // The rounds that timed the kernel's net as well, when the kernel
      // was measured (the JIT on the kernel's frames, repeated as the
      // kernel's test run repeats them); else the batching table's (the
      // mix's records in turn).
      if let rounds = row.kernelRounds, let net = rounds.jitNet, let gross = rounds.jitGross,
        let empty = rounds.jitEmpty
      {
        jitNanosecondsPerPacket[name] = gross.median
        jitEmptyNanosecondsPerPacket[name] = empty.median
        jitNetRounds[name] = net
      } else {
        jitNanosecondsPerPacket[name] =
          direct?.perPacketNanoseconds ?? row.jitRunnerNanosecondsPerPacket
        jitEmptyNanosecondsPerPacket[name] = direct?.emptyNanoseconds
        jitNetRounds[name] = direct?.netRounds
      }
    }
  }
}

/// One row of the batching table (`bench --json` key `batching`).
public struct BatchingFigure: Encodable, Sendable {
  public var program: String
  public var call: String
  public var perPacketNanoseconds: Double
  /// nil (JSON null) when the program has no batch form.
  public var batchNanoseconds: Double?
  /// Per-packet over batch: the median of the rounds' ratios
  /// (``speedupRounds``), not the quotient of the two ns figures, which
  /// are each form's fastest round and may come from different rounds.
  public var speedup: Double?
  /// Why batching cannot win for the program: the rewriter's refusal
  /// (a tail call never returns to the batch loop); nil when it has a
  /// batch form.
  public var batchRefusal: String? = nil
  /// Why the batch form lost with this call style (``explainingLosses(reference:)``);
  /// nil where it did not lose or has no batch form.
  public var batchLoss: String? = nil
  /// The per-round ratios ``speedup`` is the median of; nil without a
  /// batch form.
  public var speedupRounds: RoundRatios? = nil
  /// The empty program called the same way over the same records in the
  /// same rounds (``BatchingBench/Row/emptyNanoseconds``); nil when not
  /// measured.
  public var emptyNanoseconds: Double? = nil
  /// Per round, ``perPacketNanoseconds``' form less the empty program
  /// (``BatchingBench/Row/netRounds``); nil when not measured.
  public var netRounds: RoundSpread? = nil

  private enum CodingKeys: String, CodingKey {
    case program, call, speedup, speedupRounds, netRounds
    case perPacketNanoseconds = "perPacketNs"
    case batchNanoseconds = "batchNs"
    case batchRefusal = "batchRefused"
    case batchLoss = "batchLoses"
    case emptyNanoseconds = "emptyNs"
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(program, forKey: .program)
    try container.encode(call, forKey: .call)
    try container.encode(perPacketNanoseconds, forKey: .perPacketNanoseconds)
    try container.encode(batchNanoseconds, forKey: .batchNanoseconds)
    try container.encode(speedup, forKey: .speedup)
    try container.encode(speedupRounds, forKey: .speedupRounds)
    try container.encode(batchRefusal, forKey: .batchRefusal)
    try container.encode(batchLoss, forKey: .batchLoss)
    try container.encode(emptyNanoseconds, forKey: .emptyNanoseconds)
    try container.encode(netRounds, forKey: .netRounds)
  }

  /// A program that only returns XDP_PASS: its per-packet row is what a
  /// call costs with each style, its batch row what the batch loop's step
  /// costs, measured beside the samples.
  static let reference = KernelBench.emptyProgram

  /// `rows` with ``batchLoss`` set on every row whose batch form is slower
  /// than its per-packet form (a ``speedup`` below 1): by how much, what the saved call and the
  /// loop's step cost (the `reference` rows, same call style), and what
  /// the body costs in each form once those are taken out.
  static func explainingLosses(_ rows: [BatchingFigure], reference: [BatchingFigure])
    -> [BatchingFigure]
  {
    rows.map { row in
      guard let batch = row.batchNanoseconds, let speedup = row.speedup, speedup < 1 else {
        return row
      }
      var explained = row
      let loss = String(
        format:
          "the batch form loses: %.2fx per packet over batch (batch %.1f, per packet %.1f ns)",
        speedup, batch, row.perPacketNanoseconds)
      guard let call = reference.first(where: { $0.call == row.call }),
        let step = call.batchNanoseconds
      else {
        explained.batchLoss = loss + " (the call and the loop step were not measured)"
        return explained
      }
      explained.batchLoss =
        loss
        + String(
          format:
            ": the %@ call it saves costs %.1f ns and its loop step %.1f ns (a program that only returns); the body takes %.1f ns in the loop against %.1f ns per call",
          row.call, call.perPacketNanoseconds, step, batch - step,
          row.perPacketNanoseconds - call.perPacketNanoseconds)
      return explained
    }
  }

  /// Every sample in the JIT, per packet from the machine-code driver
  /// loop; programs the rewriter refuses (tail calls) have per-packet
  /// rows only, with the refusal. A sample that cannot be measured is
  /// reported on stderr.
  public static func measure(
    _ sources: [ProgramSource], frames: [[UInt8]], progress: BenchProgress = .silent
  )
    -> [BatchingFigure]
  {
    var rows: [BatchingFigure] = []
    for source in sources {
      let name =
        "\(URL(fileURLWithPath: source.objectPath).lastPathComponent):\(source.programName)"
      do {
        let object = try BPFObject(contentsOf: source.objectPath)
        let program = try object.program(named: source.programName)
        progress.step("batching: \(name)")
        let measured = try BatchingBench.run(program, maps: object.maps, frames: frames)
        if let refusal = measured.first?.batchRefusal {
          progress.note("batching: \(name) per packet only: \(refusal)")
        }
        for row in measured {
          rows.append(
            BatchingFigure(
              program: name, call: row.call.rawValue,
              perPacketNanoseconds: row.perPacketNanoseconds,
              batchNanoseconds: row.batchNanoseconds, speedup: row.speedup,
              batchRefusal: row.batchRefusal, speedupRounds: row.speedupRounds,
              emptyNanoseconds: row.emptyNanoseconds, netRounds: row.netRounds))
        }
      } catch {
        progress.note("batching: \(name): \(error)")
      }
    }
    guard !rows.isEmpty else { return rows }
    progress.step("batching: a program that only returns (the call and the loop step)")
    do {
      let reference = try BatchingBench.run(Self.reference, maps: [], frames: frames).map {
        BatchingFigure(
          program: Self.reference.name, call: $0.call.rawValue,
          perPacketNanoseconds: $0.perPacketNanoseconds, batchNanoseconds: $0.batchNanoseconds,
          speedup: $0.speedup, speedupRounds: $0.speedupRounds)
      }
      rows = explainingLosses(rows, reference: reference)
    } catch {
      progress.note("batching: the reference program: \(error)")
      rows = explainingLosses(rows, reference: [])
    }
    for row in rows {
      if let loss = row.batchLoss {
        progress.note("batching: \(row.program) (\(row.call)): \(loss)")
      }
    }
    return rows
  }
}
