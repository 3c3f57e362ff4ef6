import BPF
import Deployment
import Engine
import Foundation
import Rewriter

/// What the software datapath's runner adds to the program per frame:
/// ``LiveFrameRunner`` over frames that already lie in the machine's
/// space (as the datapath's UMEM does, with the frames' pages lent per
/// call), in runs of one, two and 64 frames (one and two are what an RX
/// batch holds at the rates a veth pair gives), against the batching
/// table's driver loop calling the same compiled program directly. No
/// sockets and no clock reading per run: the runner's own cost, which
/// the datapath's `prog ns` adds to its cache misses and clock readings.
public enum RunnerBench {
  /// Frames per run measured.
  public static let runSizes = [1, 2, 64]

  /// One program, form and run size.
  public struct Row: Sendable {
    public var form: Form
    public var framesPerRun: Int
    public var nanosecondsPerFrame: Double
    /// Frames run for this row over every round, the warm-up's included.
    public var framesRun = 0
  }

  /// Measures `program` over `frames` (cycled), `perRound` frames a round
  /// for each row, the rows taking turns; the fastest of `rounds` is kept.
  public static func run(
    _ program: Program, maps: [MapDefinition], frames packets: [[UInt8]],
    perRound: Int = 64 * 2_000, rounds: Int = 7
  ) throws -> [Row] {
    let machine = try Machine(maps: maps, configuration: MachineConfiguration(engine: .jit))
    let forms: [(Form, PreparedProgram)] = [
      (.perPacket, try machine.prepare(program)),
      (.batch, try machine.prepare(try BatchTrampoline().rewrite(program).program, form: .batch)),
    ]
    let runner = try LiveFrameRunner(machine: machine)
    runner.lendsFrames = true
    let frameSize = 4096
    let size = LiveFrameRunner.maximumBatch
    let region = try machine.addressSpace.map(length: frameSize * size, name: "umem")
    var frames: [LiveFrameRunner.Frame] = []
    for slot in 0..<size {
      let start = region.start + UInt32(slot * frameSize)
      let packet = packets[slot % packets.count]
      frames.append(
        .init(
          hardStart: start, data: start + 256, length: UInt32(packet.count),
          hardEnd: start + UInt32(frameSize) - 320))
    }
    func stage() {
      for (slot, frame) in frames.enumerated() {
        machine.addressSpace.write(packets[slot % packets.count], at: UInt64(frame.data))
      }
    }
    machine.addressSpace.closePages(of: region)
    var rows: [Row] = []
    for (form, _) in forms {
      for run in runSizes {
        rows.append(Row(form: form, framesPerRun: run, nanosecondsPerFrame: .infinity))
      }
    }
    for round in 0...rounds {
      for index in rows.indices {
        let run = rows[index].framesPerRun
        let program = forms.first { $0.0 == rows[index].form }!.1
        let calls = perRound / run
        stage()
        let elapsed = frames.withUnsafeBufferPointer { all in
          ContinuousClock().measure {
            for call in 0..<calls {
              let first = (call * run) % size
              let slice = UnsafeBufferPointer(rebasing: all[first..<min(first + run, size)])
              runner.run(program, frames: slice, form: rows[index].form)
            }
          }
        }
        rows[index].framesRun += calls * run
        if let error = runner.lastError { throw RunnerBenchError(description: "\(error)") }
        let nanoseconds = elapsed.nanoseconds / Double(calls * run)
        if round > 0 {  // round 0 warms up
          rows[index].nanosecondsPerFrame = min(rows[index].nanosecondsPerFrame, nanoseconds)
        }
      }
    }
    return rows
  }
}

/// A run of the runner bench failed.
public struct RunnerBenchError: Error, CustomStringConvertible {
  public var description: String
}

/// One row of the runner table (`bench --json` key `runner`): the
/// runner's ns per frame at a run size, over the driver loop's direct
/// call of the same form (the batching table's `direct` per-packet
/// figure, or its batch figure for the batch form).
public struct RunnerFigure: Encodable, Sendable {
  public var program: String
  public var form: String
  public var framesPerRun: Int
  public var nanosecondsPerFrame: Double
  /// The batching table's figure for the same program and form.
  public var driverNanosecondsPerFrame: Double?
  /// ``nanosecondsPerFrame`` over ``driverNanosecondsPerFrame``.
  public var overDriver: Double?

  private enum CodingKeys: String, CodingKey {
    case program, form, framesPerRun, overDriver
    case nanosecondsPerFrame = "nsPerFrame"
    case driverNanosecondsPerFrame = "driverNsPerFrame"
  }

  /// The datapath bench's programs (xdp1, xdp_tx, xdp_classify) found in
  /// `sources`, each next to its batching rows.
  public static func measure(
    _ sources: [ProgramSource], frames: [[UInt8]], batching: [BatchingFigure],
    progress: BenchProgress = .silent
  ) -> [RunnerFigure] {
    let wanted = ["xdp_prog1", "xdp_tx", "xdp_classify_prog"]
    var figures: [RunnerFigure] = []
    for source in sources where wanted.contains(source.programName) {
      let name =
        "\(URL(fileURLWithPath: source.objectPath).lastPathComponent):\(source.programName)"
      progress.step("runner: \(name)")
      do {
        let object = try BPFObject(contentsOf: source.objectPath)
        let program = try object.program(named: source.programName)
        let direct = batching.first { $0.program == name && $0.call == CallStyle.direct.rawValue }
        for row in try RunnerBench.run(program, maps: object.maps, frames: frames) {
          let driver: Double? =
            row.form == Form.batch ? direct?.batchNanoseconds : direct?.perPacketNanoseconds
          figures.append(
            RunnerFigure(
              program: name, form: row.form.rawValue, framesPerRun: row.framesPerRun,
              nanosecondsPerFrame: row.nanosecondsPerFrame, driverNanosecondsPerFrame: driver,
              overDriver: driver.map { row.nanosecondsPerFrame / max($0, 1e-9) }))
        }
      } catch {
        progress.note("runner: \(name): \(error)")
      }
    }
    return figures
  }
}
