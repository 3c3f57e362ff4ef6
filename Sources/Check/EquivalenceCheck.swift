import BPF
import Engine
import Frames
import Rewriter

/// Runs a program per packet and, for each ``BatchVariant``, rewritten
/// into its batch form, over the same generated packets in batches of
/// random sizes, and compares what each packet got: verdict, output bytes,
/// redirect target, and the maps' contents. What `xdpbatch check` does.
///
/// Each form runs on its own ``Machine``, seeded alike (device map entries,
/// random seed, a fixed clock), so any difference is the rewrite's.
/// Packets are generated and compared in chunks, so memory does not grow
/// with the packet count; maps are compared after every chunk.
public struct EquivalenceCheck: Sendable {
  /// Packets to run.
  public var packets: Int
  /// Seed of the frames and of the batch sizes.
  public var seed: UInt64
  /// The largest batch; batches are drawn from 1...batchSize. Under the
  /// `immediate` bound the runner pads each batch to this size with empty
  /// frames it does not report.
  public var batchSize: Int
  /// The variants to compare.
  public var variants: [BatchVariant]
  /// Packets generated and compared at a time.
  public var chunkSize = 4096
  /// The engine every form runs in.
  public var engine = EngineKind.platformDefault

  /// Configures a check.
  public init(
    packets: Int = 10_000, seed: UInt64 = 1, batchSize: Int = PacketRunner.maximumBatch,
    variants: [BatchVariant] = BatchVariant.all
  ) {
    self.packets = packets
    self.seed = seed
    self.batchSize = batchSize
    self.variants = variants
  }

  /// Checks `program` (its map references index `maps`) with frames from
  /// a ``FrameGenerator`` seeded with ``seed``.
  public func run(_ program: Program, maps: [MapDefinition]) throws(EquivalenceError)
    -> ProgramEquivalence
  {
    var generator = FrameGenerator(seed: seed)
    return try run(program, maps: maps) { count in generator.frames(count) }
  }

  /// Checks `program` with packets from `source`, which is asked for up to
  /// ``chunkSize`` packets at a time (``packets`` in all).
  public func run(
    _ program: Program, maps: [MapDefinition], packets source: (Int) -> [[UInt8]]
  ) throws(EquivalenceError) -> ProgramEquivalence {
    guard (1...PacketRunner.maximumBatch).contains(batchSize) else {
      throw .invalidBatchSize(batchSize)
    }
    let reference = try RunnableForm(program, maps: maps, form: .perPacket, engine: engine)
    var forms: [RunnableForm?] = []
    var outcomes: [VariantOutcome] = []
    for variant in variants {
      do {
        let batch = try variant.trampoline(batchSize: batchSize).rewrite(program)
        let form = try RunnableForm(
          batch.program, maps: maps, form: .batch, batchSize: batchSize, engine: engine)
        form.runner.padsPartialBatches = variant.bound == .immediate
        forms.append(form)
        outcomes.append(VariantOutcome(variant: variant, summary: batch.summary))
      } catch let error as RewriteError {
        forms.append(nil)
        outcomes.append(VariantOutcome(variant: variant, refusal: error))
      } catch let error as EquivalenceError {
        throw error
      } catch {
        throw .unexpected("\(error)")
      }
    }

    var result = ProgramEquivalence(program: program.name)
    guard forms.isEmpty || forms.contains(where: { $0 != nil }) else {
      result.variants = outcomes
      return result
    }
    var sizes = BatchSizes(seed: seed ^ 0xba7c_5e1e_c7ed, largest: batchSize)
    while result.packets < packets {
      let chunk = source(min(chunkSize, packets - result.packets))
      if chunk.isEmpty { break }
      let first = result.packets
      let expected: RunReport
      do {
        expected = try reference.runner.run(chunk)
      } catch {
        throw .referenceFailed(error.offset(by: first))
      }
      let expectedMaps = MapContents(reference.machine)
      let batchSizes = sizes.next(covering: chunk.count)
      for index in forms.indices {
        guard let form = forms[index], outcomes[index].failure == nil else { continue }
        do {
          let actual = try form.runner.run(chunk, batchSizes: batchSizes)
          outcomes[index].compare(expected, actual, first: first)
        } catch {
          outcomes[index].record(.execution(error.offset(by: first)), count: chunk.count)
          continue
        }
        outcomes[index].compare(
          expectedMaps, MapContents(form.machine), afterPacket: first + chunk.count - 1)
      }
      for index in outcomes.indices where outcomes[index].refusal == nil {
        outcomes[index].packets += chunk.count
      }
      result.packets += chunk.count
      result.actions.add(expected.totals)
    }
    result.variants = outcomes
    return result
  }

  /// One runnable form of the program, on a machine of its own.
  struct RunnableForm {
    let machine: Machine
    var runner: PacketRunner

    init(
      _ program: Program, maps: [MapDefinition], form: Form, batchSize: Int = 1,
      engine: EngineKind
    ) throws(EquivalenceError) {
      do {
        machine = try Machine(
          maps: maps,
          configuration: MachineConfiguration(fixedClock: (1_000_000, 1_000), engine: engine))
        machine.seedDeviceMaps()
        runner = try PacketRunner(
          machine: machine, program: machine.prepare(program, form: form), form: form,
          batchSize: batchSize)
      } catch {
        throw .unrunnable(program: program.name, reason: "\(error)")
      }
    }
  }
}
