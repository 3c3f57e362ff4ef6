import Foundation

/// One row of the datapath bench: what ran, the three rates, and for the
/// software datapath its time per packet.
public struct DatapathBenchRow: Hashable, Encodable, Sendable {
  /// `kernel` (native XDP), `bare` (AF_XDP, no program) or `software`.
  public var kind = ""
  /// The program (none for the bare loop).
  public var program: String?
  /// `native` for the kernel, `recycle`/`send-back` for the bare loop,
  /// `per-packet`/`batch` for the software datapath.
  public var form = ""
  /// The engine that ran the program (software rows).
  public var engine: String?
  /// Whether verdicts were acted on grouped by action (software rows).
  public var groupActions: Bool?
  /// Seconds of traffic.
  public var seconds: Double
  /// Millions of frames a second the generator got onto the veth ring
  /// (received or dropped there for want of room).
  public let offeredMpps: Double
  /// Millions of frames a second the host end's XDP saw.
  public let receivedMpps: Double
  /// Millions of frames a second acted on (counted by the program's
  /// counters, or handled by the bare loop).
  public var actedMpps: Double
  /// Frames the AF_XDP sockets dropped (ring full, fill ring empty).
  public var socketDrops: UInt64?
  /// The engine's nanoseconds per packet inside the program calls.
  public var programNanosecondsPerPacket: Double?
  /// The datapath's nanoseconds per packet from taking the frames off the
  /// RX ring to having acted on them; for the bare loop, the same span
  /// (frames found on the RX ring to their release).
  public var datapathNanosecondsPerPacket: Double?
  /// Frames per non-empty RX batch (bare and software rows): a run's fixed
  /// costs are shared by this many frames.
  public var framesPerBatch: Double?
  /// For a software row: the bare reference loop's frames per RX batch,
  /// measured right before the row (``capacityRatio`` compares like with
  /// like where the two are close).
  public var referenceFramesPerBatch: Double?
  /// For a paced row (software rows and their reference): the frames
  /// both loops waited for and took per RX batch (``RXPacing``); nil for
  /// the unpaced rows, which take a batch as soon as a frame is there.
  public var pacedFrames: Int?
  /// ``datapathNanosecondsPerPacket`` times ``framesPerBatch``: the span
  /// per RX batch.
  public var datapathNanosecondsPerBatch: Double?
  /// The reference's ns per RX batch (its ns per frame times its frames
  /// per batch).
  public var referenceNanosecondsPerBatch: Double?
  /// Frames per verdict (software rows).
  public var actions: [String: UInt64]?
  /// The bare loop row this one is compared with (`recycle` or `send-back`).
  public var reference: String?
  /// ``actedMpps`` over the reference's.
  public var ratio: Double?
  /// For a software row: the bare reference loop's acted rate, measured
  /// right before the row (the ratio's denominator).
  public var referenceActedMpps: Double?
  /// For a software row: the bare reference loop's nanoseconds per frame
  /// over the same span as ``datapathNanosecondsPerPacket``, measured
  /// right before the row.
  public var referenceNanosecondsPerPacket: Double?
  /// For a software row: the reference's ns per frame over this row's, the
  /// share of the bare loop's capacity the datapath keeps when both are
  /// busy. Unlike ``ratio`` it holds when the generator, not the
  /// receiver, sets the rate (a ``generatorBound`` row).
  public var capacityRatio: Double?
  /// For xdp1 and xdp_classify rows: the bare loop that does the
  /// program's work without the engine (``matchedWork(of:)``), measured
  /// right before the row and paced alike: its name, acted rate, ns per
  /// frame over the same span and frames per RX batch.
  public var matchedReference: String?
  public var matchedReferenceActedMpps: Double?
  public var matchedReferenceNanosecondsPerPacket: Double?
  public var matchedReferenceFramesPerBatch: Double?
  /// The matched reference's ns per frame over this row's: what the
  /// engine and the datapath's own work around it keep of the capacity
  /// of the same work done natively.
  public var matchedCapacityRatio: Double?
  /// For a software row: the capacity ratio of each round, in the order
  /// measured (``DatapathBench/rounds``); the row's figures are those of
  /// the round at their median.
  public var capacityRatioRounds: [Double]?
  /// The matched reference's ratio in each round, in the same order.
  public var matchedCapacityRatioRounds: [Double]?

  /// Whether the program's maps were the kernel's (software rows).
  public var sharedMaps: Bool?
  /// Exchanges of the queues with the kernel's maps during the row, and
  /// their time per packet acted on (software rows with shared maps).
  public var exchanges: UInt64?
  public var exchangeNanosecondsPerPacket: Double?
  /// Microseconds one exchange took (all of a queue's maps), on average.
  public var exchangeMicroseconds: Double?

  /// Whether the generator may have been the limit: the veth ring dropped
  /// (almost) nothing, so the receiver kept up with what was offered.
  public let generatorBound: Bool

  /// A row with its rates; the rest is filled in by the bench.
  public init(seconds: Double, offeredMpps: Double, receivedMpps: Double, actedMpps: Double) {
    self.seconds = seconds
    self.offeredMpps = offeredMpps
    self.receivedMpps = receivedMpps
    self.actedMpps = actedMpps
    generatorBound = offeredMpps - receivedMpps < 0.01 * offeredMpps
  }

  private enum CodingKeys: String, CodingKey {
    case kind, program, form, engine, groupActions, seconds, offeredMpps, receivedMpps
    case actedMpps, socketDrops, actions, reference, ratio, referenceActedMpps, generatorBound
    case matchedReference, matchedReferenceActedMpps, matchedCapacityRatio
    case matchedReferenceFramesPerBatch, capacityRatioRounds, matchedCapacityRatioRounds
    case matchedReferenceNanosecondsPerPacket = "matchedReferenceNsPerPacket"
    case capacityRatio, framesPerBatch, referenceFramesPerBatch, pacedFrames
    case datapathNanosecondsPerBatch = "datapathNsPerBatch"
    case referenceNanosecondsPerBatch = "referenceNsPerBatch"
    case referenceNanosecondsPerPacket = "referenceNsPerPacket"
    case sharedMaps, exchanges, exchangeMicroseconds
    case exchangeNanosecondsPerPacket = "exchangeNsPerPacket"
    case programNanosecondsPerPacket = "programNsPerPacket"
    case datapathNanosecondsPerPacket = "datapathNsPerPacket"
  }

  /// The bare loop `program` is compared with: xdp_tx with the send-back
  /// loop, xdp_classify with the mix loop (the same TX share of the same
  /// traffic), the others with the recycle loop.
  static func referenceWork(of program: String?) -> BareSocketLoop.Work {
    switch program {
    case "xdp_tx": .sendBack
    case "xdp_classify_prog": .mix
    default: .recycle
    }
  }

  /// The bare loop that does `program`'s work without the engine: for
  /// xdp1 the loop that reads the same header bytes and counts them, for
  /// xdp_classify the one that decides on the same bytes and does the
  /// same ring work and gathered sends; nil for the others (xdp_tx's
  /// send-back loop already is its ring work; its MAC swap is not added).
  static func matchedWork(of program: String?) -> BareSocketLoop.Work? {
    switch program {
    case "xdp_prog1": .readHeaders
    case "xdp_classify_prog": .mixSends
    default: nil
    }
  }

  /// The round of `rounds` (one software row each, its references
  /// filled in) whose capacity ratio, its reference's ns per frame over
  /// its own, is the median (the higher middle one of an even count; the
  /// last round when a round has no ratio), with every round's ratios
  /// beside it. Its other figures are that round's own, so that each
  /// row's figures come from one window and its reference's.
  static func median(of rounds: [DatapathBenchRow]) -> DatapathBenchRow {
    func ratio(_ row: DatapathBenchRow, _ reference: Double?) -> Double? {
      guard let own = row.datapathNanosecondsPerPacket, own > 0, let reference else { return nil }
      return reference / own
    }
    let ratios = rounds.map { ratio($0, $0.referenceNanosecondsPerPacket) }
    let matched = rounds.map { ratio($0, $0.matchedReferenceNanosecondsPerPacket) }
    guard var row = rounds.last else {
      preconditionFailure("a software row has at least one round")
    }
    let known = ratios.compactMap { $0 }
    if known.count == rounds.count {
      let order = ratios.indices.sorted { ratios[$0]! < ratios[$1]! }
      row = rounds[order[order.count / 2]]
    }
    row.capacityRatioRounds = known.count == rounds.count ? known : nil
    let knownMatched = matched.compactMap { $0 }
    row.matchedCapacityRatioRounds = knownMatched.count == rounds.count ? knownMatched : nil
    return row
  }

  /// Compares every software and kernel row with the bare loop: a
  /// software row with the one measured right before it, the kernel row
  /// with the bare rows of the section's start.
  static func addRatios(_ rows: inout [DatapathBenchRow]) {
    func bare(_ form: String) -> Double? {
      rows.first { $0.kind == "bare" && $0.form == form }?.actedMpps
    }
    for index in rows.indices {
      if let perFrame = rows[index].datapathNanosecondsPerPacket,
        let frames = rows[index].framesPerBatch
      {
        rows[index].datapathNanosecondsPerBatch = perFrame * frames
      }
      if let perFrame = rows[index].referenceNanosecondsPerPacket,
        let frames = rows[index].referenceFramesPerBatch
      {
        rows[index].referenceNanosecondsPerBatch = perFrame * frames
      }
    }
    for index in rows.indices where rows[index].kind != "bare" {
      let reference = referenceWork(of: rows[index].program).rawValue
      guard let base = rows[index].referenceActedMpps ?? bare(reference), base > 0 else {
        continue
      }
      rows[index].reference = reference
      rows[index].ratio = rows[index].actedMpps / base
      if let own = rows[index].datapathNanosecondsPerPacket, own > 0,
        let bare = rows[index].referenceNanosecondsPerPacket
      {
        rows[index].capacityRatio = bare / own
      }
      if let own = rows[index].datapathNanosecondsPerPacket, own > 0,
        let matched = rows[index].matchedReferenceNanosecondsPerPacket
      {
        rows[index].matchedCapacityRatio = matched / own
      }
    }
  }
}
