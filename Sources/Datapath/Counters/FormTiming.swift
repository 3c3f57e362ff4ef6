import BPF

/// Packets run in one form and the time they took.
public struct FormTiming: Hashable, Codable, Sendable {
  /// Frames run in this form.
  public var packets: UInt64 = 0
  /// RX batches they came in (``framesPerBatch``: what a run's fixed costs
  /// are shared by).
  public var batches: UInt64 = 0
  /// Nanoseconds inside the engine calls of the RX batches whose engine
  /// calls were timed: a queue times them on a sample of its batches
  /// (``QueueWorker``'s `programSampling`), since two clock readings
  /// cost more than a short program on one or two frames.
  public var programNanoseconds: UInt64 = 0
  /// The datapath's nanoseconds over those same batches: the program's
  /// share of the datapath's time is ``programNanoseconds`` over this.
  public var programSpanNanoseconds: UInt64 = 0
  /// Nanoseconds from taking the frames off the RX ring to having acted on them.
  public var datapathNanoseconds: UInt64 = 0

  /// Nothing yet.
  public init() {}

  /// Adds one RX batch of `packets` frames; `programNanoseconds` nil
  /// when its engine calls were not timed.
  mutating func add(packets: Int, programNanoseconds: UInt64?, datapathNanoseconds: UInt64) {
    self.packets &+= UInt64(packets)
    if packets > 0 { batches &+= 1 }
    if let programNanoseconds {
      self.programNanoseconds &+= programNanoseconds
      programSpanNanoseconds &+= datapathNanoseconds
    }
    self.datapathNanoseconds &+= datapathNanoseconds
  }

  mutating func add(_ other: FormTiming) {
    packets &+= other.packets
    batches &+= other.batches
    programNanoseconds &+= other.programNanoseconds
    programSpanNanoseconds &+= other.programSpanNanoseconds
    datapathNanoseconds &+= other.datapathNanoseconds
  }

  /// The program's share of the datapath's time, from the timed batches
  /// (nil before one): a ratio of two spans of the same batches, so a
  /// batch preempted in the program weighs in both.
  public var programShare: Double? {
    programSpanNanoseconds == 0
      ? nil : min(1, Double(programNanoseconds) / Double(programSpanNanoseconds))
  }

  /// The program's nanoseconds per packet, when it ran: its share of the
  /// datapath's time per packet.
  public var programNanosecondsPerPacket: Double? {
    guard let share = programShare, let whole = datapathNanosecondsPerPacket else { return nil }
    return share * whole
  }

  /// The program's nanoseconds over every batch, estimated from its share
  /// (what a counter of the program's seconds adds).
  public var estimatedProgramNanoseconds: Double {
    (programShare ?? 0) * Double(datapathNanoseconds)
  }

  /// Frames per RX batch, when it ran (nil from a datapath that did not
  /// count batches).
  public var framesPerBatch: Double? {
    batches == 0 ? nil : Double(packets) / Double(batches)
  }

  /// The whole datapath's nanoseconds per packet, when it ran.
  public var datapathNanosecondsPerPacket: Double? {
    packets == 0 ? nil : Double(datapathNanoseconds) / Double(packets)
  }

  private enum CodingKeys: String, CodingKey {
    case packets, batches
    case programNanoseconds = "programNs"
    case programSpanNanoseconds = "programSpanNs"
    case datapathNanoseconds = "datapathNs"
    case programNanosecondsPerPacket = "programNsPerPacket"
    case datapathNanosecondsPerPacket = "datapathNsPerPacket"
  }

  /// Encodes packets, the totals (what a counter of seconds needs) and
  /// the per-packet figures.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(packets, forKey: .packets)
    try container.encode(batches, forKey: .batches)
    try container.encode(programNanoseconds, forKey: .programNanoseconds)
    try container.encode(programSpanNanoseconds, forKey: .programSpanNanoseconds)
    try container.encode(datapathNanoseconds, forKey: .datapathNanoseconds)
    try container.encodeIfPresent(programNanosecondsPerPacket, forKey: .programNanosecondsPerPacket)
    try container.encodeIfPresent(
      datapathNanosecondsPerPacket, forKey: .datapathNanosecondsPerPacket)
  }

  /// Decodes what ``encode(to:)`` wrote (the totals; from an older
  /// datapath without them, the per-packet figures times the packets; one
  /// without `program_span_ns` timed every batch).
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    packets = try container.decode(UInt64.self, forKey: .packets)
    batches = try container.decodeIfPresent(UInt64.self, forKey: .batches) ?? 0
    if let program = try container.decodeIfPresent(UInt64.self, forKey: .programNanoseconds),
      let datapath = try container.decodeIfPresent(UInt64.self, forKey: .datapathNanoseconds)
    {
      programNanoseconds = program
      datapathNanoseconds = datapath
      programSpanNanoseconds =
        try container.decodeIfPresent(UInt64.self, forKey: .programSpanNanoseconds) ?? datapath
      return
    }
    let program = try container.decodeIfPresent(Double.self, forKey: .programNanosecondsPerPacket)
    let datapath = try container.decodeIfPresent(
      Double.self, forKey: .datapathNanosecondsPerPacket)
    programNanoseconds = UInt64((program ?? 0) * Double(packets))
    datapathNanoseconds = UInt64((datapath ?? 0) * Double(packets))
    programSpanNanoseconds = datapathNanoseconds
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
