import BPF

/// Feeds packets to a program on a machine, in either ``Form`` (per packet:
/// one call a packet, R1 = its context record; batch: one call a batch of
/// up to ``batchSize`` records, R1 = the first, R2 = the count, each verdict
/// left in its record's `act`), and collects verdicts, output bytes and
/// redirect targets.
///
/// Every packet sits in its own frame: 256 bytes of headroom (the kernel's
/// `XDP_PACKET_HEADROOM`), the packet, then tailroom up to the frame's hard
/// end, which keeps the last 320 bytes free as the kernel does for
/// `skb_shared_info`.
public final class PacketRunner {
  /// `XDP_PACKET_HEADROOM`.
  public static let headroom = 256
  /// Bytes reserved at the end of each frame (`skb_shared_info`).
  public static let sharedInfoSize = 320
  /// The most records a batch may have.
  public static let maximumBatch = 64

  /// The machine programs run on.
  public let machine: Machine
  /// The program.
  public let program: PreparedProgram
  /// How the program is called: per packet, or as the batch form.
  public let form: Form
  /// Records one batch call takes (1 per packet).
  public let batchSize: Int
  /// The `ingress_ifindex` every record carries.
  public var ingressInterface: UInt32 = 1
  /// The `rx_queue_index` every record carries.
  public var receiveQueue: UInt32 = 0
  /// Bytes per packet frame.
  public let frameSize: Int
  /// Whether a partial batch is padded to the full batch size with
  /// records marked ``XDPContextLayout/paddingAction`` (empty frames,
  /// `data == data_end`), which are not reported: what a program rewritten
  /// with the `immediate` bound needs, since it always processes exactly
  /// the batch size. Its trampoline skips marked records, so the program
  /// never runs on padding.
  public var padsPartialBatches = false

  private let records: ContextRecords
  private let frames: [Region]

  /// Maps the records and frames a run needs.
  ///
  /// - Parameters:
  ///   - form: per packet, or batch (`program` must then be the batch form,
  ///     from `BatchTrampoline`).
  ///   - batchSize: the batch form's largest batch (clamped to
  ///     1...``maximumBatch``); ignored per packet.
  ///   - maximumPacketSize: the largest packet the runner accepts (frames
  ///     are sized from it, in whole pages).
  public init(
    machine: Machine, program: PreparedProgram, form: Form, batchSize: Int = maximumBatch,
    maximumPacketSize: Int = 3520
  ) throws(RunError) {
    self.machine = machine
    self.program = program
    self.form = form
    let needed = Self.headroom + maximumPacketSize + Self.sharedInfoSize
    let frameSize =
      (needed + AddressSpace.pageSize - 1) / AddressSpace.pageSize * AddressSpace.pageSize
    self.frameSize = frameSize
    let slotCount = form == .batch ? min(max(batchSize, 1), Self.maximumBatch) : 1
    self.batchSize = slotCount
    do {
      records = try ContextRecords(machine: machine, count: slotCount, name: "context records")
      frames = try (0..<slotCount).map { slot throws(AddressSpaceError) in
        try machine.addressSpace.map(length: frameSize, name: "packet frame \(slot)")
      }
    } catch {
      throw .addressSpace(error)
    }
  }

  /// The largest packet a frame holds.
  public var packetLimit: Int { frameSize - Self.headroom - Self.sharedInfoSize }

  /// Runs every packet through the program.
  public func run(_ packets: [[UInt8]]) throws(RunError) -> RunReport {
    var report = RunReport()
    report.outcomes.reserveCapacity(packets.count)
    for (index, packet) in packets.enumerated() where packet.count > packetLimit {
      throw .packetTooLarge(packet: index, size: packet.count, limit: packetLimit)
    }
    switch form {
    case .perPacket:
      machine.refusesTailCalls = false
      // Record 0 armed as a batch of one: the JIT's packet helpers find
      // its bounds there.
      records.beginBatch(1, on: machine)
      for (index, packet) in packets.enumerated() {
        let record = load(packet, slot: 0)
        machine.pendingRedirect = nil
        let value: UInt64
        do {
          value = try machine.run(program, r1: record)
        } catch {
          throw .execution(packet: index, error)
        }
        report.instructions += machine.lastInstructionCount
        report.invocations += 1
        guard records.packetInFrame(0) else { throw records.outsideFrame(0, packet: index) }
        // The kernel's XDP verdict is a u32 (`bpf_prog_run_xdp`): R0's
        // upper half is ignored.
        let action = XDPAction(returnValue: value & 0xffff_ffff)
        let outcome = PacketOutcome(
          action: action, returnValue: value, output: bytes(records.packet(0)),
          metadata: bytes(records.metadata(0)),
          redirect: action == .redirect ? machine.pendingRedirect : nil)
        machine.pendingRedirect = nil
        report.totals.record(action, bytes: outcome.output.count)
        report.outcomes.append(outcome)
      }
    case .batch:
      return try run(packets, batchSizes: [])
    }
    return report
  }

  /// Runs the packets in batches of the given sizes, in order (batch form
  /// only; per packet the sizes are ignored). Each size is clamped to
  /// 1...``batchSize``; when the sizes run out, batches are full.
  public func run(_ packets: [[UInt8]], batchSizes: [Int]) throws(RunError) -> RunReport {
    guard form == .batch else { return try run(packets) }
    for (index, packet) in packets.enumerated() where packet.count > packetLimit {
      throw .packetTooLarge(packet: index, size: packet.count, limit: packetLimit)
    }
    var report = RunReport()
    report.outcomes.reserveCapacity(packets.count)
    machine.refusesTailCalls = true
    defer { machine.refusesTailCalls = false }
    var start = 0
    var sizes = batchSizes.makeIterator()
    while start < packets.count {
      let size = min(max(sizes.next() ?? frames.count, 1), frames.count)
      let batch = packets[start..<min(start + size, packets.count)]
      try runBatch(batch, first: start, into: &report)
      start += batch.count
    }
    return report
  }

  private func runBatch(_ batch: ArraySlice<[UInt8]>, first: Int, into report: inout RunReport)
    throws(RunError)
  {
    let addresses = batch.indices.map { load(batch[$0], slot: $0 - first) }
    let padding = padsPartialBatches ? frames.count - batch.count : 0
    for slot in batch.count..<(batch.count + padding) {
      _ = load([], slot: slot)
      records.markPadding(slot)
    }
    records.beginBatch(batch.count + padding, on: machine)
    let processed: UInt64
    let total = batch.count + padding
    do {
      processed = try machine.run(program, r1: addresses[0], r2: UInt64(total))
    } catch {
      throw .execution(packet: first, error)
    }
    report.instructions += machine.lastInstructionCount
    report.invocations += 1
    guard processed == UInt64(total) else {
      throw .batchIncomplete(packet: first, processed: processed, expected: total)
    }
    for slot in addresses.indices {
      guard records.packetInFrame(slot) else {
        throw records.outsideFrame(slot, packet: first + slot)
      }
      let value = UInt64(records.action(slot))
      let action = XDPAction(returnValue: value)
      let outcome = PacketOutcome(
        action: action, returnValue: value, output: bytes(records.packet(slot)),
        metadata: bytes(records.metadata(slot)),
        redirect: action == .redirect ? records.committedRedirect(slot) : nil)
      report.totals.record(action, bytes: outcome.output.count)
      report.outcomes.append(outcome)
    }
  }

  /// Copies each packet into a frame of its own and fills its record,
  /// without running anything; returns the record addresses. For a driver
  /// that calls compiled code directly (the call-style benchmark).
  /// The records are armed as one batch (``ContextRecords/beginBatch(_:on:)``),
  /// so a batch form's epilogue commits its redirects inline, as in ``run(_:)``.
  public func stage(_ packets: ArraySlice<[UInt8]>) -> [UInt64] {
    let addresses = zip(packets, frames.indices).map { load($0, slot: $1) }
    records.beginBatch(addresses.count, on: machine)
    return addresses
  }

  /// Copies a packet into frame `slot`, fills its record, returns the record address.
  private func load(_ packet: [UInt8], slot: Int) -> UInt64 {
    let space = machine.addressSpace
    let frame = frames[slot]
    let data = frame.start + UInt32(Self.headroom)
    // Headroom that adjust_head/adjust_meta expose starts zeroed, as in the
    // kernel's test run, never holding the previous packet's bytes.
    space.pointer(UInt64(frame.start), count: Self.headroom)?
      .initializeMemory(as: UInt8.self, repeating: 0, count: Self.headroom)
    space.write(packet, at: UInt64(data))
    records.fill(
      slot,
      LiveFrameRunner.Frame(
        hardStart: frame.start, data: data, length: UInt32(packet.count),
        hardEnd: frame.start + UInt32(frameSize - Self.sharedInfoSize)),
      ingressInterface: ingressInterface, receiveQueue: receiveQueue)
    machine.legacyPacket = (UInt64(data), UInt64(data) + UInt64(packet.count))
    return records.address(slot)
  }

  /// The bytes between two addresses a record holds (`data` and
  /// `data_end`, or `data_meta` and `data`).
  private func bytes(_ range: (UInt32, UInt32)) -> [UInt8] {
    let (first, last) = range
    guard last > first,
      let source = machine.addressSpace.pointer(UInt64(first), count: Int(last - first))
    else { return [] }
    return [UInt8](UnsafeRawBufferPointer(start: source, count: Int(last - first)))
  }
}
