import BPF

/// How a program is invoked on packets.
public enum RunMode: Hashable, Sendable {
  /// One call per packet, R1 = the packet's context record.
  case perPacket
  /// One call per batch of up to `size` records: R1 = the first record,
  /// R2 = the count; the program returns the count processed and leaves
  /// each verdict in the record's `act` field.
  case batch(size: Int)
}

/// Feeds packets to a program on a machine, in per-packet or batch mode,
/// and collects verdicts, output bytes and redirect targets.
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
  /// Per-packet or batch.
  public let mode: RunMode
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

  private let layout = XDPContextLayout.engine
  private let records: Region
  /// The frame bounds and committed redirects of each record slot.
  private let slots: PacketFrameTable.Slots
  private let frames: [Region]

  /// Maps the records and frames a run needs.
  ///
  /// - Parameter maximumPacketSize: the largest packet the runner accepts
  ///   (frames are sized from it, in whole pages).
  public init(
    machine: Machine, program: PreparedProgram, mode: RunMode, maximumPacketSize: Int = 3520
  ) throws(RunError) {
    self.machine = machine
    self.program = program
    self.mode = mode
    let needed = Self.headroom + maximumPacketSize + Self.sharedInfoSize
    let frameSize =
      (needed + AddressSpace.pageSize - 1) / AddressSpace.pageSize * AddressSpace.pageSize
    self.frameSize = frameSize
    let slotCount: Int
    switch mode {
    case .perPacket: slotCount = 1
    case .batch(let size): slotCount = min(max(size, 1), Self.maximumBatch)
    }
    do {
      records = try machine.addressSpace.map(
        length: slotCount * Int(layout.stride), name: "context records")
      frames = try (0..<slotCount).map { slot throws(AddressSpaceError) in
        try machine.addressSpace.map(length: frameSize, name: "packet frame \(slot)")
      }
    } catch {
      throw .addressSpace(error)
    }
    // Each slot's frame is fixed, so its bounds are registered once.
    self.slots = machine.packetFrames.register(
      records: UInt64(records.start), stride: Int(layout.stride), count: slotCount)
    for slot in frames.indices {
      self.slots.bounds[slot] = PacketFrame(
        hardStart: UInt64(frames[slot].start),
        hardEnd: UInt64(frames[slot].start) + UInt64(frameSize - Self.sharedInfoSize))
    }
  }

  private func recordAddress(_ slot: Int) -> UInt64 {
    UInt64(records.start) + UInt64(slot) * UInt64(layout.stride)
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
    switch mode {
    case .perPacket:
      machine.refusesTailCalls = false
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
        // The kernel's XDP verdict is a u32 (`bpf_prog_run_xdp`): R0's
        // upper half is ignored.
        let action = XDPAction(returnValue: value & 0xffff_ffff)
        let outcome = PacketOutcome(
          action: action, returnValue: value, output: output(of: record),
          metadata: metadata(of: record),
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

  /// Runs the packets in batches of the given sizes, in order (batch mode
  /// only; per-packet mode ignores the sizes). Each size is clamped to
  /// 1...the mode's batch size; when the sizes run out, batches are full.
  public func run(_ packets: [[UInt8]], batchSizes: [Int]) throws(RunError) -> RunReport {
    guard case .batch = mode else { return try run(packets) }
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
    for slot in batch.count..<(batch.count + padding) { markPadding(load([], slot: slot)) }
    for slot in 0..<(batch.count + padding) { slots.redirects[slot] = nil }
    machine.committedRedirects.removeAll(keepingCapacity: true)
    machine.pendingRedirect = nil
    let processed: UInt64
    let records = batch.count + padding
    do {
      processed = try machine.run(program, r1: addresses[0], r2: UInt64(records))
    } catch {
      throw .execution(packet: first, error)
    }
    report.instructions += machine.lastInstructionCount
    report.invocations += 1
    guard processed == UInt64(records) else {
      throw .batchIncomplete(packet: first, processed: processed, expected: records)
    }
    for (slot, record) in addresses.enumerated() {
      let value = UInt64(machine.addressSpace.readWord(record + UInt64(layout.action)) ?? 0)
      let action = XDPAction(returnValue: value)
      let outcome = PacketOutcome(
        action: action, returnValue: value, output: output(of: record),
        metadata: metadata(of: record),
        redirect: action == .redirect ? slots.redirects[slot] : nil)
      report.totals.record(action, bytes: outcome.output.count)
      report.outcomes.append(outcome)
    }
  }

  /// Copies each packet into a frame of its own and fills its record,
  /// without running anything; returns the record addresses. For a driver
  /// that calls compiled code directly (the call-style benchmark).
  public func stage(_ packets: ArraySlice<[UInt8]>) -> [UInt64] {
    zip(packets, frames.indices).map { load($0, slot: $1) }
  }

  /// Copies a packet into frame `slot`, fills its record, returns the record address.
  private func load(_ packet: [UInt8], slot: Int) -> UInt64 {
    let space = machine.addressSpace
    let frame = frames[slot]
    let record = recordAddress(slot)
    let data = UInt64(frame.start) + UInt64(Self.headroom)
    // Headroom that adjust_head/adjust_meta expose starts zeroed, as in the
    // kernel's test run, never holding the previous packet's bytes.
    space.pointer(UInt64(frame.start), count: Self.headroom)?
      .initializeMemory(as: UInt8.self, repeating: 0, count: Self.headroom)
    space.write(packet, at: data)
    let end = data + UInt64(packet.count)
    // The record is mapped by init: one bounds check for all its fields.
    if let fields = space.pointer(record, count: Int(layout.stride)) {
      func set(_ offset: Int16, _ value: UInt32) {
        fields.storeBytes(of: value, toByteOffset: Int(offset), as: UInt32.self)
      }
      set(layout.data, UInt32(data))
      set(layout.dataEnd, UInt32(end))
      set(layout.dataMeta, UInt32(data))
      set(layout.ingressInterfaceIndex, ingressInterface)
      set(layout.receiveQueueIndex, receiveQueue)
      set(layout.egressInterfaceIndex, 0)
      set(layout.action, 0)
      set(XDPContextLayout.engineRedirectSlot, 0)
    }
    machine.legacyPacket = (data, end)
    return record
  }

  /// Marks a loaded record as padding, for the trampoline to skip.
  private func markPadding(_ record: UInt64) {
    machine.addressSpace.pointer(record + UInt64(layout.action), count: 4)?
      .storeBytes(of: UInt32(XDPContextLayout.paddingAction), as: UInt32.self)
  }

  /// The bytes between the record's `data` and `data_end`.
  private func output(of record: UInt64) -> [UInt8] {
    bytes(of: record, from: layout.data, to: layout.dataEnd)
  }

  /// The bytes between the record's `data_meta` and `data`.
  private func metadata(of record: UInt64) -> [UInt8] {
    bytes(of: record, from: layout.dataMeta, to: layout.data)
  }

  private func bytes(of record: UInt64, from start: Int16, to end: Int16) -> [UInt8] {
    let space = machine.addressSpace
    guard let first = space.readWord(record + UInt64(start)),
      let last = space.readWord(record + UInt64(end)), last > first,
      let source = space.pointer(UInt64(first), count: Int(last - first))
    else { return [] }
    return [UInt8](UnsafeRawBufferPointer(start: source, count: Int(last - first)))
  }
}
