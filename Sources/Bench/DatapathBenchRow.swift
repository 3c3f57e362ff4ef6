import Datapath
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
  public var offeredMpps: Double
  /// Millions of frames a second the host end's XDP saw.
  public var receivedMpps: Double
  /// Millions of frames a second acted on (counted by the program's
  /// counters, or handled by the bare loop).
  public var actedMpps: Double
  /// Frames the AF_XDP sockets dropped (ring full, fill ring empty).
  public var socketDrops: UInt64?
  /// The engine's nanoseconds per packet inside the program calls.
  public var programNanosecondsPerPacket: Double?
  /// The datapath's nanoseconds per packet from taking the frames off the
  /// RX ring to having acted on them.
  public var datapathNanosecondsPerPacket: Double?
  /// Frames per verdict (software rows).
  public var actions: [String: UInt64]?
  /// The bare loop row this one is compared with (`recycle` or `send-back`).
  public var reference: String?
  /// ``actedMpps`` over the reference's.
  public var ratio: Double?
  /// For a software row: the bare reference loop's acted rate, measured
  /// right before the row (the ratio's denominator).
  public var referenceActedMpps: Double?

  /// Whether the generator may have been the limit: the veth ring dropped
  /// (almost) nothing, so the receiver kept up with what was offered.
  public var generatorBound: Bool { offeredMpps - receivedMpps < 0.01 * offeredMpps }

  /// A row with its rates; the rest is filled in by the bench.
  public init(seconds: Double, offeredMpps: Double, receivedMpps: Double, actedMpps: Double) {
    self.seconds = seconds
    self.offeredMpps = offeredMpps
    self.receivedMpps = receivedMpps
    self.actedMpps = actedMpps
  }

  enum CodingKeys: String, CodingKey {
    case kind, program, form, engine, seconds, actions, reference, ratio
    case referenceActedMpps = "reference_acted_mpps"
    case groupActions = "group_actions"
    case offeredMpps = "offered_mpps"
    case receivedMpps = "received_mpps"
    case actedMpps = "acted_mpps"
    case socketDrops = "socket_drops"
    case programNanosecondsPerPacket = "program_ns_per_packet"
    case datapathNanosecondsPerPacket = "datapath_ns_per_packet"
    case generatorBound = "generator_bound"
  }

  /// Encodes every field and ``generatorBound``.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(kind, forKey: .kind)
    try container.encodeIfPresent(program, forKey: .program)
    try container.encode(form, forKey: .form)
    try container.encodeIfPresent(engine, forKey: .engine)
    try container.encodeIfPresent(groupActions, forKey: .groupActions)
    try container.encode(seconds, forKey: .seconds)
    try container.encode(offeredMpps, forKey: .offeredMpps)
    try container.encode(receivedMpps, forKey: .receivedMpps)
    try container.encode(actedMpps, forKey: .actedMpps)
    try container.encodeIfPresent(socketDrops, forKey: .socketDrops)
    try container.encodeIfPresent(programNanosecondsPerPacket, forKey: .programNanosecondsPerPacket)
    try container.encodeIfPresent(
      datapathNanosecondsPerPacket, forKey: .datapathNanosecondsPerPacket)
    try container.encodeIfPresent(actions, forKey: .actions)
    try container.encodeIfPresent(reference, forKey: .reference)
    try container.encodeIfPresent(ratio, forKey: .ratio)
    try container.encodeIfPresent(referenceActedMpps, forKey: .referenceActedMpps)
    try container.encode(generatorBound, forKey: .generatorBound)
  }

  /// The bare loop `program` is compared with: xdp_tx with the send-back
  /// loop, the others with the recycle loop.
  static func referenceWork(of program: String?) -> BareSocketLoop.Work {
    program == "xdp_tx" ? .sendBack : .recycle
  }

  /// Compares every software and kernel row with the bare loop: a
  /// software row with the one measured right before it, the kernel row
  /// with the bare rows of the section's start.
  static func addRatios(_ rows: inout [DatapathBenchRow]) {
    func bare(_ form: String) -> Double? {
      rows.first { $0.kind == "bare" && $0.form == form }?.actedMpps
    }
    for index in rows.indices where rows[index].kind != "bare" {
      let reference = referenceWork(of: rows[index].program).rawValue
      guard let base = rows[index].referenceActedMpps ?? bare(reference), base > 0 else {
        continue
      }
      rows[index].reference = reference
      rows[index].ratio = rows[index].actedMpps / base
    }
  }

  /// The section as a table.
  public static func table(_ rows: [DatapathBenchRow]) -> String {
    var lines = [
      "DATAPATH (veth, full-speed generator)        offered  received     acted   prog ns  path ns   vs bare",
      "                                                Mpps      Mpps      Mpps  /packet  /packet",
    ]
    for row in rows {
      var name: String
      switch row.kind {
      case "kernel": name = "kernel XDP \(row.program ?? "")"
      case "bare": name = "bare AF_XDP \(row.form)"
      default:
        name = "\(row.program ?? "") \(row.form)"
        if let engine = row.engine, engine != "jit" { name += " (\(engine))" }
        if row.groupActions == true { name += " grouped" }
      }
      func number(_ value: Double?, _ format: String) -> String {
        value.map { String(format: format, $0) } ?? String(repeating: " ", count: 8) + "-"
      }
      let ratio =
        row.ratio.map { String(format: "%8.0f %%", $0 * 100) + " \(row.reference ?? "")" } ?? ""
      lines.append(
        name.padding(toLength: 43, withPad: " ", startingAt: 0) + (row.generatorBound ? "*" : " ")
          + String(format: "%8.2f  %8.2f  %8.2f", row.offeredMpps, row.receivedMpps, row.actedMpps)
          + number(row.programNanosecondsPerPacket, "%9.1f")
          + number(row.datapathNanosecondsPerPacket, "%9.1f") + ratio)
    }
    if rows.contains(where: \.generatorBound) {
      lines.append(
        "* the veth ring dropped nothing: the receiver kept up, the generator may be the limit")
    }
    return lines.joined(separator: "\n")
  }
}
