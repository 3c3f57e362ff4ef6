import BPF

/// Packets run in one form and the time they took.
public struct FormTiming: Hashable, Codable, Sendable {
  /// Frames run in this form.
  public var packets: UInt64 = 0
  /// Nanoseconds inside the engine calls.
  public var programNanoseconds: UInt64 = 0
  /// Nanoseconds from taking the frames off the RX ring to having acted on them.
  public var datapathNanoseconds: UInt64 = 0

  /// Nothing yet.
  public init() {}

  mutating func add(packets: Int, programNanoseconds: UInt64, datapathNanoseconds: UInt64) {
    self.packets &+= UInt64(packets)
    self.programNanoseconds &+= programNanoseconds
    self.datapathNanoseconds &+= datapathNanoseconds
  }

  mutating func add(_ other: FormTiming) {
    packets &+= other.packets
    programNanoseconds &+= other.programNanoseconds
    datapathNanoseconds &+= other.datapathNanoseconds
  }

  /// The program's nanoseconds per packet, when it ran.
  public var programNanosecondsPerPacket: Double? {
    packets == 0 ? nil : Double(programNanoseconds) / Double(packets)
  }

  /// The whole datapath's nanoseconds per packet, when it ran.
  public var datapathNanosecondsPerPacket: Double? {
    packets == 0 ? nil : Double(datapathNanoseconds) / Double(packets)
  }

  private enum CodingKeys: String, CodingKey {
    case packets
    case programNanoseconds = "programNs"
    case datapathNanoseconds = "datapathNs"
    case programNanosecondsPerPacket = "programNsPerPacket"
    case datapathNanosecondsPerPacket = "datapathNsPerPacket"
  }

  /// Encodes packets, the totals (what a counter of seconds needs) and
  /// the per-packet figures.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(packets, forKey: .packets)
    try container.encode(programNanoseconds, forKey: .programNanoseconds)
    try container.encode(datapathNanoseconds, forKey: .datapathNanoseconds)
    try container.encodeIfPresent(programNanosecondsPerPacket, forKey: .programNanosecondsPerPacket)
    try container.encodeIfPresent(
      datapathNanosecondsPerPacket, forKey: .datapathNanosecondsPerPacket)
  }

  /// Decodes what ``encode(to:)`` wrote (the totals; from an older
  /// datapath without them, the per-packet figures times the packets).
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    packets = try container.decode(UInt64.self, forKey: .packets)
    if let program = try container.decodeIfPresent(UInt64.self, forKey: .programNanoseconds),
      let datapath = try container.decodeIfPresent(UInt64.self, forKey: .datapathNanoseconds)
    {
      programNanoseconds = program
      datapathNanoseconds = datapath
      return
    }
    let program = try container.decodeIfPresent(Double.self, forKey: .programNanosecondsPerPacket)
    let datapath = try container.decodeIfPresent(
      Double.self, forKey: .datapathNanosecondsPerPacket)
    programNanoseconds = UInt64((program ?? 0) * Double(packets))
    datapathNanoseconds = UInt64((datapath ?? 0) * Double(packets))
  }
}

/// ``FormTiming`` for each form.
public struct TimingByForm: Hashable, Codable, Sendable {
  /// Per-packet form.
  public var perPacket = FormTiming()
  /// Batch form.
  public var batch = FormTiming()

  /// Nothing yet.
  public init() {}

  /// The timing of `form`.
  public subscript(form: Form) -> FormTiming {
    get { form == .batch ? batch : perPacket }
    set { if form == .batch { batch = newValue } else { perPacket = newValue } }
  }

  mutating func add(_ other: TimingByForm) {
    perPacket.add(other.perPacket)
    batch.add(other.batch)
  }

  enum CodingKeys: String, CodingKey {
    case perPacket = "per-packet"
    case batch
  }
}
