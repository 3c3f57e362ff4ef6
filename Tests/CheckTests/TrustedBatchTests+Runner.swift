import BPF
import Rewriter
import TestSupport
import Testing

@testable import Engine

extension TrustedBatchTests {
  /// Each sample's batch form (64 records, the bench's rewrite): its
  /// proof sites, trusted and guarded.
  static func sampleSites(_ name: String) throws -> (trusted: Int, guarded: Int, batch: Bool) {
    let path = PackageLayout.sample(name)
    let object = try BPFObject(contentsOf: path)
    let program = try object.program(named: try object.onlyXDPProgramName(file: path))
    let batch = try BatchTrampoline(batchSize: 64).rewrite(program)
    let machine = try Machine(maps: object.maps, configuration: MachineConfiguration(engine: .jit))
    let prepared = try machine.prepare(batch.program, form: .batch)
    let count = prepared.count + 1
    let ranges = PacketRanges(
      slots: prepared.slots, count: count,
      records: RecordCursors(slots: prepared.slots, count: count))
    return (ranges.trustedSites.count, ranges.guardSites.count, ranges.trustsBatch)
  }

  /// The batch forms whose cursor and end live in loop registers read
  /// `data` and `data_end` through the cursor and prove their packet
  /// ranges with no guard, as their per-packet forms do since branch
  /// `trust`.
  /// xdp_calls keeps its end on the stack (one loop register left): its
  /// back-edge compares the cursor with the end the guard checked
  /// (``RecordCursors/endChecks``), which proves its records too.
  @Test(arguments: ["xdp_tx", "xdp1", "xdp_classify", "xdp_redirect_map", "xdp_calls"])
  func aSamplesBatchFormHasNoPacketGuard(_ name: String) throws {
    let sites = try Self.sampleSites(name)
    #expect(sites.trusted >= 1 && sites.guarded == 0 && sites.batch, "\(sites)")
  }

  /// xdp_stack keeps its cursor on the stack: no record is proven
  /// (``RecordCursors``), so its guards stand.
  @Test(arguments: ["xdp_stack"])
  func aBatchFormWithoutLoopRegistersKeepsItsGuard(_ name: String) throws {
    let sites = try Self.sampleSites(name)
    #expect(sites.trusted == 0 && sites.guarded >= 1 && !sites.batch, "\(sites)")
  }
}

extension TrustedBatchTests {
  /// The runner bench's setup (``LiveFrameRunner`` lending 64 frames of
  /// 4 KiB, one a page): the runner names the whole batch and its code
  /// runs the proven copy (its verdicts those of the interpreter).
  @Test func aFullLentBatchOfXdpClassifyIsNamed() throws {
    let path = PackageLayout.sample("xdp_classify")
    let object = try BPFObject(contentsOf: path)
    let program = try object.program(named: try object.onlyXDPProgramName(file: path))
    let batch = try BatchTrampoline().rewrite(program).program
    var verdicts: [[String]] = []
    for engine in [EngineKind.interpreter, .jit] {
      let machine = try Machine(
        maps: object.maps, configuration: MachineConfiguration(engine: engine))
      let prepared = try machine.prepare(batch, form: .batch)
      let runner = try LiveFrameRunner(machine: machine)
      runner.lendsFrames = true
      let size = LiveFrameRunner.maximumBatch
      let region = try machine.addressSpace.map(length: 4096 * size, name: "umem")
      let frames = (0..<size).map { slot in
        let start = region.start + UInt32(slot * 4096)
        return LiveFrameRunner.Frame(
          hardStart: start, data: start + 256, length: 64, hardEnd: start + 4096 - 320)
      }
      machine.addressSpace.closePages(of: region)
      frames.withUnsafeBufferPointer { runner.run(prepared, frames: $0, form: .batch) }
      #expect(runner.lastError == nil)
      verdicts.append(runner.verdicts.map { "\($0.action)" })
      if engine == .jit {
        #expect(machine.jit[JITContext.trustedCount] == UInt64(size))
      }
    }
    #expect(verdicts[1] == verdicts[0])
  }
}

extension TrustedBatchTests {
  /// A partial batch padded with empty frames: the padding records take
  /// the full test (their frame is the runner's mapped page) and the
  /// runner names the whole padded batch, which runs as in the
  /// interpreter.
  @Test func paddingRecordsPassTheSameTest() throws {
    let program = try Self.batch(Self.parser(bytes: 40))
    var outcomes: [Outcome] = []
    for engine in [EngineKind.interpreter, .jit] {
      let live = try Live(engine, program)
      live.runner.lendsFrames = true
      let frames = [live.frame(0), live.frame(1)]
      frames.withUnsafeBufferPointer {
        live.runner.run(live.program, frames: $0, form: .batch, padded: 4)
      }
      outcomes.append(
        Outcome(
          "\(live.runner.lastError.map { "\($0)" } ?? "ok")", live.machine.lastInstructionCount,
          live.acts(4)))
      if engine == .jit {
        #expect(live.machine.jit[JITContext.trustedCount] == 4)
      }
    }
    #expect(outcomes[1] == outcomes[0])
    #expect(outcomes[1].acts == [0x40, 0x41, 0, 0] && outcomes[1].result == "ok")
  }
}
