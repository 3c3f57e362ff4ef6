import BPF

/// A runner's context records (what R1 points to, in
/// ``XDPContextLayout/engine``): `count` records at fixed slots of one
/// region, filled and read through the region's host memory (mapped at
/// init, never moved: no bounds check per field), with each slot's frame
/// bounds and committed redirect registered with the machine's
/// ``PacketFrameTable``. Programs may read the records and write only
/// their `act` and redirect slot (``AddressSpace/protectRecords(_:)``):
/// `data`, `data_end` and `data_meta` are the engine's. Both runners fill and read their records here;
/// every member is a plain value or pointer, so the per-frame path
/// retains nothing.
struct ContextRecords {
  /// The record layout.
  let layout = XDPContextLayout.engine
  /// The address of the first record.
  let start: UInt64
  /// The records there are.
  let count: Int
  /// The frame bounds and committed redirects of each slot.
  private let slots: PacketFrameTable.Slots
  /// The region's host memory.
  private let bytes: UnsafeMutableRawPointer
  /// The space's page tables (``AddressSpace/limits``,
  /// ``AddressSpace/writeLimits``: allocated once, never moved), read by
  /// ``trusted(_:)`` with nothing retained.
  let limits: UnsafeMutablePointer<UInt32>
  private let writeLimits: UnsafeMutablePointer<UInt32>

  /// Maps `count` records as a region called `name` and registers their
  /// slots with `machine`.
  init(machine: Machine, count: Int, name: String) throws(AddressSpaceError) {
    let stride = Int(layout.stride)
    let region = try machine.addressSpace.map(length: count * stride, name: name)
    start = UInt64(region.start)
    self.count = count
    bytes = machine.addressSpace.pointer(start, count: region.length)!
    limits = machine.addressSpace.limits
    writeLimits = machine.addressSpace.writeLimits
    machine.addressSpace.protectRecords(region)
    slots = machine.packetFrames.register(records: start, stride: stride, count: count)
  }

  /// Record `slot`'s address in the machine's space.
  @inline(__always) func address(_ slot: Int) -> UInt64 {
    start &+ UInt64(slot) &* UInt64(layout.stride)
  }

  /// Record `slot`'s bytes.
  @inline(__always) private func fields(_ slot: Int) -> UnsafeMutableRawPointer {
    bytes + slot &* Int(layout.stride)
  }

  @inline(__always) private func field(_ slot: Int, _ offset: Int16) -> UInt32 {
    fields(slot).loadUnaligned(fromByteOffset: Int(offset), as: UInt32.self)
  }

  /// Fills record `slot` for `frame`, as the kernel's `xdp_buff` starts:
  /// `data_meta` = `data` (no metadata), no egress interface, `act` and
  /// the redirect slot zero; and sets the slot's frame bounds.
  @inline(__always) func fill(
    _ slot: Int, _ frame: LiveFrameRunner.Frame, ingressInterface: UInt32, receiveQueue: UInt32
  ) {
    let data = UInt64(frame.data)
    slots.bounds[slot] = PacketFrame(
      hardStart: UInt64(frame.hardStart), hardEnd: UInt64(frame.hardEnd), data: data,
      end: data &+ UInt64(frame.length), meta: data)
    let fields = fields(slot)
    func set(_ offset: Int16, _ value: UInt32) {
      fields.storeBytes(of: value, toByteOffset: Int(offset), as: UInt32.self)
    }
    set(layout.data, frame.data)
    set(layout.dataEnd, frame.data &+ frame.length)
    set(layout.dataMeta, frame.data)
    set(layout.ingressInterfaceIndex, ingressInterface)
    set(layout.receiveQueueIndex, receiveQueue)
    set(layout.egressInterfaceIndex, 0)
    set(layout.action, 0)
    if let slot = layout.redirectTarget { set(slot, 0) }
  }

  /// Record `slot`'s address when the JIT's code may trust it as R1 in a
  /// call now, else 0: ``Machine/trustedRecord(_:)``'s test with the slot
  /// known, and without comparing the fields with the bookkeeping, which
  /// are equal by construction here (``fill(_:_:ingressInterface:receiveQueue:)``
  /// writes both, programs cannot write them, the packet helpers move
  /// both). The record open to loads, the packet inside its frame, and
  /// the frame's pages open to loads and stores up to `data_hard_end`.
  @inline(__always) func trusted(_ slot: Int) -> UInt64 {
    guard slots.bounds[slot].isTrustworthy(limits: limits, writeLimits: writeLimits)
    else { return 0 }
    let record = address(slot)
    guard UInt64(limits[Int(record >> 12)]) >= record &+ UInt64(layout.stride) else { return 0 }
    return record
  }

  /// Marks a filled record as padding (``XDPContextLayout/paddingAction``
  /// in `act`), which the `immediate` bound's head skips, so the program
  /// never runs on it.
  @inline(__always) func markPadding(_ slot: Int) {
    fields(slot).storeBytes(
      of: UInt32(XDPContextLayout.paddingAction), toByteOffset: Int(layout.action),
      as: UInt32.self)
  }

  /// Readies the first `count` records for one batch run on `machine`:
  /// forgets the redirects committed into them and nothing is pending,
  /// and the machine's code learns where they are, so that the batch
  /// epilogue commits a redirect inline (the context armed once a batch).
  @inline(__always) func beginBatch(_ count: Int, on machine: Machine) {
    slots.redirects.update(repeating: .none, count: count)
    machine.pendingRedirect = nil
    let jit = machine.jit
    jit[JITContext.batchRecords] = start
    jit[JITContext.batchCount] = UInt64(count)
    jit[JITContext.batchRedirects] = UInt64(UInt(bitPattern: slots.redirects))
    jit[JITContext.batchFrames] = UInt64(UInt(bitPattern: slots.bounds))
  }

  /// Keeps the redirect a per-packet call on record `slot` recorded, as
  /// the batch form's epilogue commits one into the slot (in the
  /// runner's memory, which no program reaches).
  @inline(__always) func commit(_ slot: Int, redirect: RedirectWords) {
    slots.redirects[slot] = redirect
  }

  /// The redirect the batch form committed into record `slot`, if any.
  @inline(__always) func committedRedirect(_ slot: Int) -> RedirectTarget? {
    slots.redirects[slot].target
  }

  /// The verdict the batch form's epilogue left in record `slot`'s `act`.
  @inline(__always) func action(_ slot: Int) -> UInt32 { field(slot, layout.action) }

  /// Where record `slot`'s packet is now, `data` and `data_end`, from the
  /// runner's own bookkeeping (never from the record's fields, which the
  /// program could have written).
  @inline(__always) func packet(_ slot: Int) -> (data: UInt32, end: UInt32) {
    let frame = slots.bounds[slot]
    return (UInt32(truncatingIfNeeded: frame.data), UInt32(truncatingIfNeeded: frame.end))
  }

  /// Whether record `slot`'s packet still lies in its frame, with its
  /// metadata in front of it (or `data_meta` above `data`: none), as no
  /// helper can leave it otherwise (a defence in depth: the bookkeeping is
  /// the runner's own, and programs cannot write their context).
  @inline(__always) func packetInFrame(_ slot: Int) -> Bool {
    let frame = slots.bounds[slot]
    return frame.hardStart <= frame.data && frame.data <= frame.end && frame.end <= frame.hardEnd
      && (frame.meta > frame.data || frame.meta >= frame.hardStart)
  }

  /// The error for a record whose packet left its frame.
  func outsideFrame(_ slot: Int, packet index: Int) -> RunError {
    let (data, end) = packet(slot)
    return .packetOutsideFrame(
      packet: index, data: data, end: end, meta: UInt32(truncatingIfNeeded: slots.bounds[slot].meta)
    )
  }

  /// Where record `slot`'s metadata is, `data_meta` and `data`, from the
  /// runner's own bookkeeping.
  @inline(__always) func metadata(_ slot: Int) -> (start: UInt32, end: UInt32) {
    let frame = slots.bounds[slot]
    return (UInt32(truncatingIfNeeded: frame.meta), UInt32(truncatingIfNeeded: frame.data))
  }
}
