import BPF
import Rewriter
import Testing

@testable import Check
@testable import Engine

/// Side effects happen once per real packet whatever the bound: under
/// `immediate` the runner pads a partial batch, and the trampoline skips
/// the padding records without running the program.
struct PaddingTests {
  /// Counts every frame, even an empty one, in an array map, then passes.
  static let countsEveryFrame = Program(
    name: "counts_every_frame", sectionName: "xdp",
    instructions: [
      .store(.word, immediate: 0, to: .r10, offset: -4),
      .move(.r2, .r10),
      .add(.r2, immediate: -4),
    ] + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: 3),
      .load(.doubleWord, .r1, from: .r0, offset: 0),
      .add(.r1, immediate: 1),
      .store(.doubleWord, .r1, to: .r0, offset: 0),
      .move(.r0, immediate: 2),
      .exit,
    ])
  static let counter = MapDefinition(
    name: "frames", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)

  /// Every batch size from 1 to 64, every variant: the counter matches the
  /// per-packet form after every chunk (random partial batches included).
  @Test(arguments: 1...64)
  func countingEveryFrameIsEquivalentWithBatchSize(_ size: Int) throws {
    var check = EquivalenceCheck(packets: 150, seed: UInt64(size), batchSize: size)
    check.chunkSize = 50
    let result = try check.run(Self.countsEveryFrame, maps: [Self.counter])
    #expect(result.variants.count == 6)
    for outcome in result.variants {
      #expect(outcome.refusal == nil, "\(outcome.variant)")
      #expect(
        outcome.mismatches == 0,
        "\(outcome.variant): \(String(describing: outcome.firstDifference))")
      #expect(outcome.packets == 150)
    }
  }

  /// One packet in a batch of 64 under `immediate`: 63 padding records
  /// are processed (the loop counts them) but the program ran once.
  @Test(arguments: BatchStrategy.allCases)
  func paddingRecordsNeverRunTheProgram(_ strategy: BatchStrategy) throws {
    let batch = try BatchTrampoline(strategy: strategy, bound: .immediate, batchSize: 64)
      .rewrite(Self.countsEveryFrame)
    let machine = try Machine(maps: [Self.counter])
    let runner = try PacketRunner(
      machine: machine, program: machine.prepare(batch.program, form: .batch), form: .batch,
      batchSize: 64)
    runner.padsPartialBatches = true
    let report = try runner.run([[0xaa, 0xbb]], batchSizes: [1])
    #expect(report.outcomes.map(\.action) == [.pass])
    let value = try #require(machine.maps[0].lookup(key: [0, 0, 0, 0]))
    #expect(value == [1, 0, 0, 0, 0, 0, 0, 0])
  }
}
