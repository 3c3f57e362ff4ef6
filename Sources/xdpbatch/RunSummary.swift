import BPF
import Engine
import Foundation

/// What `xdpbatch run` reports: per-action counts, the engine's time per
/// packet and, on request, the maps afterwards. Encodes to the JSON shape
/// of docs/DESIGN.md (`program`, `mode`, `packets`, `actions`, `ns_per_packet`,
/// plus `maps` when asked for). `mode` is the form, as the JSON shape fixed
/// it; `form` says the same under its own name.
struct RunSummary: Encodable {
  var program: String
  var form: Form
  var packets: UInt64
  var actions: ActionCounts
  var nanosecondsPerPacket: Double
  /// Instructions the engine executed over the run.
  var instructions: Int
  /// Program invocations: packets per packet, batches in batch mode.
  var invocations: Int
  var maps: [MapListing]?
  /// The batch form's rewrite, `nil` per packet.
  var batch: BatchSettings?
  /// Each frame's verdict, in input order (`run --verdicts`).
  var verdicts: [String]?
  /// What the program printed (`run --trace --json`; printed before the
  /// report in text).
  var trace: [String]?
  /// Trace lines lost to the ring's bound (`run --trace`).
  var traceDropped: Int?

  /// How the batch form was made: `batch` in the JSON.
  struct BatchSettings: Encodable, Hashable {
    /// `shift` or `reserve`.
    var strategy: String
    /// `count`, `immediate` or `end-pointer`.
    var bound: String
    /// Records per batch.
    var size: Int
  }

  init(
    program: String, form: Form, report: RunReport, elapsed: Duration, maps: [MapListing]?,
    batch: BatchSettings? = nil
  ) {
    self.program = program
    self.form = form
    self.batch = batch
    packets = report.totals.totalPackets
    actions = report.totals
    let (seconds, attoseconds) = elapsed.components
    let nanoseconds = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    nanosecondsPerPacket = packets == 0 ? 0 : nanoseconds / Double(packets)
    instructions = report.instructions
    invocations = report.invocations
    self.maps = maps
  }

  enum CodingKeys: String, CodingKey {
    case program, mode, form, packets, actions, instructions, invocations, maps, verdicts, batch
    case trace
    case traceDropped = "trace_dropped"
    case nanosecondsPerPacket = "ns_per_packet"
  }

  func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(program, forKey: .program)
    try container.encode(form, forKey: .mode)
    try container.encode(form, forKey: .form)
    try container.encode(packets, forKey: .packets)
    try container.encode(actions, forKey: .actions)
    try container.encode((nanosecondsPerPacket * 10).rounded() / 10, forKey: .nanosecondsPerPacket)
    try container.encode(instructions, forKey: .instructions)
    try container.encode(invocations, forKey: .invocations)
    try container.encodeIfPresent(batch, forKey: .batch)
    if let maps {
      let byName = Dictionary(maps.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
      try container.encode(byName, forKey: .maps)
    }
    try container.encodeIfPresent(verdicts, forKey: .verdicts)
    try container.encodeIfPresent(trace, forKey: .trace)
    try container.encodeIfPresent(traceDropped, forKey: .traceDropped)
  }

  /// One JSON document.
  func json() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }

  /// The human-readable report.
  func text(source: String) -> String {
    var lines = [
      "\(program) (\(form.rawValue)) over \(source): \(packets) packets, "
        + String(format: "%.1f ns per packet", nanosecondsPerPacket)
        + ", \(instructions) instructions in \(invocations) calls",
      "",
      "ACTION      PACKETS        BYTES",
    ]
    for action in XDPAction.allCases {
      let counter = actions[action]
      lines.append(
        action.name.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)
          + String(format: "%11llu  %11llu", counter.packets, counter.bytes))
    }
    for map in maps ?? [] {
      lines.append("")
      lines += map.textLines()
    }
    if let traceDropped, traceDropped > 0 {
      lines.append("")
      lines.append("\(traceDropped) trace lines dropped (the ring keeps 4 MiB per 4,096 frames)")
    }
    if let verdicts {
      lines.append("")
      lines.append("FRAME  VERDICT")
      for (index, verdict) in verdicts.enumerated() {
        lines.append(String(index).padding(toLength: 7, withPad: " ", startingAt: 0) + verdict)
      }
    }
    return lines.joined(separator: "\n")
  }
}

/// One map's entries after a run, keys and values in hex (per-CPU maps:
/// one value per CPU). Program arrays hold programs and are not listed.
struct MapListing: Encodable {
  struct Entry: Encodable {
    var key: String
    /// The value of a shared map.
    var value: String?
    /// The values of a per-CPU map, CPU 0 first.
    var values: [String]?
  }

  var name: String
  var type: String
  var entries: [Entry]
  /// All-zero entries of a large array (over 65536 entries) left out.
  var omittedZeroEntries: Int?

  init?(_ map: Engine.BPFMap) {
    let definition = map.definition
    guard definition.type != .programArray else { return nil }
    name = definition.name
    type = definition.type.description
    let perCPU = definition.type.isPerCPU
    let isArray = definition.type == .array || definition.type == .perCPUArray
    let large = isArray && definition.maxEntries > 65_536
    let keys = large ? map.storedKeys : map.keys
    omittedZeroEntries = large ? Int(definition.maxEntries) - keys.count : nil
    entries = keys.compactMap { key in
      guard let copies = map.perProcessorValues(key: key) else { return nil }
      let hex = copies.map(Self.hex)
      return Entry(
        key: Self.hex(key), value: perCPU ? nil : hex.first, values: perCPU ? hex : nil)
    }
  }

  static func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
  }

  /// `name (type):` then one line a non-zero entry.
  func textLines() -> [String] {
    let isZero = { (entry: Entry) in
      (entry.values ?? [entry.value ?? ""]).allSatisfy { $0.allSatisfy { $0 == "0" } }
    }
    let shown = type.hasSuffix("array") ? entries.filter { !isZero($0) } : entries
    let total = entries.count + (omittedZeroEntries ?? 0)
    var lines = ["map \(name) (\(type), \(total) entries):"]
    for entry in shown {
      if let values = entry.values {
        let cpus = values.enumerated().map { "cpu\($0.offset) \($0.element)" }
        lines.append("  \(entry.key): " + cpus.joined(separator: "  "))
      } else {
        lines.append("  \(entry.key): \(entry.value ?? "")")
      }
    }
    if shown.count < total {
      lines.append("  (\(total - shown.count) all-zero entries not shown)")
    }
    return lines
  }
}
