import BPF

extension HelperFunction {
  /// Whether the helper moves the packet's bounds (`data`, `data_end` or
  /// `data_meta`), so that every packet pointer a program held before the
  /// call is stale after it: the verifier's `bpf_helper_changes_pkt_data`
  /// for XDP (net/core/filter.c). `xdp_store_bytes` writes packet bytes
  /// but moves nothing. Packet-check elision reads this.
  var movesPacket: Bool {
    switch self {
    case .xdpAdjustHead, .xdpAdjustMeta, .xdpAdjustTail: true
    default: false
    }
  }
}

/// The XDP packet helpers as machine code: `xdp_load_bytes`,
/// `xdp_store_bytes`, `csum_diff` and `xdp_adjust_head`/`_meta`/`_tail`,
/// each giving what the engine's Swift code gives (``Machine/adjustHead(_:)``,
/// ``Machine/copyPacketBytes(store:_:)``, ``Checksum``) for the same
/// registers: the kernel's return values and errnos, the bytes moved, the
/// bounds in the runner's bookkeeping and in the record, the helper's work
/// charged to the budget (``JITContext/helperWork``).
///
/// The fast path covers a record of the batch being run
/// (``JITContext/batchFrames``) whose bounds lie in its frame, and buffers
/// the address space allows whole; any other argument goes to the Swift
/// code, which computes everything again and raises the engine's error
/// (R1 not a context, bounds outside the frame, a buffer outside every
/// region). R1-R5 are kept, as after a call into Swift.
extension JITCompiler {
  /// The routines the packet helpers call, emitted once after the body.
  struct PacketRoutines {
    /// `csum_partial`: R11 bytes (host), R10 count, EAX seed -> EAX.
    var partial: CodeLabel
    /// `memmove`: RSI source, RDI target (host), RCX count.
    var move: CodeLabel
  }

  static func field(_ path: KeyPath<PacketFrame, UInt64>) -> Int32 {
    Int32(MemoryLayout<PacketFrame>.offset(of: path)!)
  }

  mutating func emitPacketHelper(
    _ id: HelperFunction, _ index: Int, slow: CodeLabel, done: CodeLabel
  ) {
    let routines = packetRoutines ?? PacketRoutines(partial: a.makeLabel(), move: a.makeLabel())
    packetRoutines = routines
    let (fail, finish) = (a.makeLabel(), a.makeLabel())
    let arguments: [X86Register] = [.rdi, .rsi, .rdx, .rcx, .r8]
    for reg in arguments { a.push(reg) }
    switch id {
    case .checksumDiff: emitChecksumDifference(index, routines, fail: fail, finish: finish)
    case .xdpLoadBytes, .xdpStoreBytes:
      emitFrameLookup(fail: fail)
      emitCopy(store: id == .xdpStoreBytes, index, routines, fail: fail, finish: finish)
    case .xdpAdjustHead:
      emitFrameLookup(fail: fail)
      emitAdjustHead(index, routines, finish: finish)
    case .xdpAdjustTail:
      emitFrameLookup(fail: fail)
      emitAdjustTail(index, finish: finish)
    default:
      emitFrameLookup(fail: fail)
      emitAdjustMeta(finish: finish)
    }
    a.bind(finish)
    for reg in arguments.reversed() { a.pop(reg) }
    a.jump(to: done)
    a.bind(fail)
    for reg in arguments.reversed() { a.pop(reg) }
    a.jump(to: slow)
  }

  /// R10 = the bookkeeping of the record R1 points to, a record of the
  /// batch being run whose bounds lie in its frame; else `fail`.
  private mutating func emitFrameLookup(fail: CodeLabel) {
    let r = JITRegisters.self
    let (hardStart, hardEnd) = (Self.field(\.hardStart), Self.field(\.hardEnd))
    let (data, end, meta) = (Self.field(\.data), Self.field(\.end), Self.field(\.meta))
    emitBatchSlot(of: .rdi, fail: fail)
    a.multiply(r.scratch, immediate: Int32(MemoryLayout<PacketFrame>.stride), wide: true)
    a.add(r.scratch, memory: r.context, JITContext.batchFrames)
    a.compare(memory: r.scratch, hardEnd, immediate: 0)
    a.jump(.equal, to: fail)
    // hard start <= data <= data_end <= hard end, and data_meta above
    // data (no metadata) or at or above the hard start.
    a.load(r.address, r.scratch, data)
    a.compare(r.address, memory: r.scratch, hardStart)
    a.jump(.below, to: fail)
    a.compare(r.address, memory: r.scratch, end)
    a.jump(.above, to: fail)
    a.load(r.address, r.scratch, end)
    a.compare(r.address, memory: r.scratch, hardEnd)
    a.jump(.above, to: fail)
    let inFrame = a.makeLabel()
    a.load(r.address, r.scratch, meta)
    a.compare(r.address, memory: r.scratch, data)
    a.jump(.above, to: inFrame)
    a.compare(r.address, memory: r.scratch, hardStart)
    a.jump(.below, to: fail)
    a.bind(inFrame)
  }

  /// R10 = the slot of the batch being run that the record `record`
  /// points to is, (record - first record) / stride, below the count;
  /// else `fail`.
  mutating func emitBatchSlot(of record: X86Register, fail: CodeLabel) {
    let r = JITRegisters.self
    let stride = Int(XDPContextLayout.engine.stride)
    precondition(stride.nonzeroBitCount == 1, "engine records have a power-of-two stride")
    a.move(r.scratch, record)
    a.memoryForm(
      [0x2b], wide: true, reg: r.scratch.number, base: r.context,
      displacement: JITContext.batchRecords)
    a.test(r.scratch, immediate: Int32(stride - 1), wide: true)
    a.jump(.notEqual, to: fail)
    a.shift(digit: 5, r.scratch, by: UInt8(stride.trailingZeroBitCount), wide: true)
    a.compare(r.scratch, memory: r.context, JITContext.batchCount)
    a.jump(.aboveOrEqual, to: fail)
  }

  /// Jumps to `fail` unless the address space allows `count` (> 0) bytes
  /// at `address` (BPF addresses), as ``AddressSpace/pointer(_:count:)``:
  /// the first byte's page is below the page count and the range ends by
  /// that page's limit (for a store's target, `write`, the write table's:
  /// a record's `struct xdp_md` fails, and Swift raises the fault).
  /// Clobbers R11 and RAX.
  mutating func emitRangeCheck(
    _ address: X86Register, count: X86Register, fail: CodeLabel, write: Bool = false
  ) {
    let r = JITRegisters.self
    a.move(r.address, address)
    a.shift(digit: 5, r.address, by: 12, wide: true)
    a.compare(r.address, memory: r.context, JITContext.pages)
    a.jump(.aboveOrEqual, to: fail)
    a.shift(digit: 4, r.address, by: 2, wide: true)
    a.add(r.address, memory: r.context, write ? JITContext.writeLimits : JITContext.limits)
    a.memoryForm([0x8b], wide: false, reg: r.address.number, base: r.address, displacement: 0)
    a.memoryForm(
      [0x8d], wide: true, reg: X86Register.rax.number, base: address, index: count,
      displacement: 0)
    a.arithmetic(0x39, .rax, r.address, wide: true)
    a.jump(.above, to: fail)
  }

  /// Charges R11 bytes of helper work, as ``Machine/chargeHelperWork(bytes:_:)``:
  /// under 64 bytes nothing; else the run's work rises by bytes / 64 and
  /// the run ends with the budget error at `index` when the instructions
  /// executed pass the budget less that work. Clobbers R11.
  mutating func emitCharge(_ index: Int) {
    let r = JITRegisters.self
    let skip = a.makeLabel()
    let granule = Machine.helperWorkPerInstruction
    precondition(granule.nonzeroBitCount == 1, "the work granule is a power of two")
    a.arithmetic(digit: 7, r.address, immediate: Int32(granule), wide: true)
    a.jump(.below, to: skip)
    a.shift(digit: 5, r.address, by: UInt8(granule.trailingZeroBitCount), wide: true)
    a.add(r.address, memory: r.context, JITContext.helperWork)
    a.store(r.address, r.context, JITContext.helperWork)
    a.unary(digit: 3, r.address, wide: true)
    a.add(r.address, memory: r.context, JITContext.budget)
    a.arithmetic(0x39, r.counter, r.address, wide: true)
    a.jump(.greater, to: stub(.budgetExceeded, index))
    a.bind(skip)
  }

  /// RAX = the negative errno `code`, then `finish`.
  mutating func emitErrno(_ label: CodeLabel, _ code: Errno, finish: CodeLabel) {
    a.bind(label)
    a.move(.rax, immediate: UInt64(bitPattern: Int64(-code)))
    a.jump(to: finish)
  }

  /// `xdp_load_bytes(ctx, offset, buf, len)` / `xdp_store_bytes`.
  private mutating func emitCopy(
    store: Bool, _ index: Int, _ routines: PacketRoutines, fail: CodeLabel, finish: CodeLabel
  ) {
    let r = JITRegisters.self
    let (fault, invalid, empty) = (a.makeLabel(), a.makeLabel(), a.makeLabel())
    a.move(.rax, .rsi, wide: false)
    a.move(.rcx, .rcx, wide: false)
    for reg in [X86Register.rax, .rcx] {
      a.arithmetic(digit: 7, reg, immediate: 0xffff, wide: true)
      a.jump(.above, to: fault)
    }
    a.load(r.address, r.scratch, Self.field(\.end))
    a.memoryForm(
      [0x2b], wide: true, reg: r.address.number, base: r.scratch,
      displacement: Self.field(\.data))
    a.memoryForm(
      [0x8d], wide: true, reg: X86Register.r8.number, base: .rax, index: .rcx,
      displacement: 0)
    a.arithmetic(0x39, .r8, r.address, wide: true)
    a.jump(.above, to: invalid)
    a.test(.rcx, .rcx, wide: true)
    a.jump(.equal, to: empty)
    a.load(.r8, r.scratch, Self.field(\.data))
    a.arithmetic(0x01, .r8, .rax, wide: true)
    let (source, target): (X86Register, X86Register) = store ? (.rdx, .r8) : (.r8, .rdx)
    emitRangeCheck(source, count: .rcx, fail: fail)
    emitRangeCheck(target, count: .rcx, fail: fail, write: true)
    a.move(r.address, .rcx)
    emitCharge(index)
    a.move(.rsi, source)
    a.add(.rsi, memory: r.context, JITContext.arena)
    a.move(.rdi, target)
    a.add(.rdi, memory: r.context, JITContext.arena)
    a.call(routines.move)
    a.bind(empty)
    a.move(.rax, immediate: 0)
    a.jump(to: finish)
    emitErrno(fault, .fault, finish: finish)
    emitErrno(invalid, .invalid, finish: finish)
  }

  /// `xdp_adjust_head(ctx, offset)`, as ``Machine/adjustHead(_:)``.
  private mutating func emitAdjustHead(
    _ index: Int, _ routines: PacketRoutines, finish: CodeLabel
  ) {
    let r = JITRegisters.self
    let (invalid, noMetadata, moved) = (a.makeLabel(), a.makeLabel(), a.makeLabel())
    a.load(.rax, r.scratch, Self.field(\.data))
    a.load(.r8, r.scratch, Self.field(\.meta))
    // RCX = the metadata's length (0 when data_meta lies above data).
    a.move(.rcx, immediate: 0)
    a.arithmetic(0x39, .r8, .rax, wide: true)
    a.jump(.above, to: noMetadata)
    a.move(.rcx, .rax)
    a.arithmetic(0x29, .rcx, .r8, wide: true)
    a.bind(noMetadata)
    a.extend(0x63, .rdx, .rsi, wide: true)
    // hard start + xdp_frame + metadata <= data + offset <= data_end - ETH_HLEN.
    a.load(r.address, r.scratch, Self.field(\.hardStart))
    a.arithmetic(digit: 0, r.address, immediate: Int32(Machine.xdpFrameSize), wide: true)
    a.arithmetic(0x01, r.address, .rcx, wide: true)
    a.arithmetic(0x01, .rax, .rdx, wide: true)
    a.arithmetic(0x39, .rax, r.address, wide: true)
    a.jump(.less, to: invalid)
    a.load(r.address, r.scratch, Self.field(\.end))
    a.arithmetic(
      digit: 5, r.address, immediate: Int32(Machine.ethernetHeaderLength), wide: true)
    a.arithmetic(0x39, .rax, r.address, wide: true)
    a.jump(.greater, to: invalid)
    a.move(r.address, .rcx)
    emitCharge(index)
    a.store(.rax, r.scratch, Self.field(\.data))
    // The metadata moves with data, where the space allows both ranges
    // (the engine skips the move otherwise: a frame not lent to this run).
    a.test(.rcx, .rcx, wide: true)
    a.jump(.equal, to: moved)
    emitRangeCheck(.r8, count: .rcx, fail: moved)
    a.loadAddress(.rsi, .r8, 0)
    a.arithmetic(0x01, .rsi, .rdx, wide: true)
    emitRangeCheck(.rsi, count: .rcx, fail: moved)
    a.move(.rdi, .rsi)
    a.add(.rdi, memory: r.context, JITContext.arena)
    a.move(.rsi, .r8)
    a.add(.rsi, memory: r.context, JITContext.arena)
    a.call(routines.move)
    a.bind(moved)
    a.arithmetic(0x01, .r8, .rdx, wide: true)
    a.store(.r8, r.scratch, Self.field(\.meta))
    emitRecordBounds()
    a.move(.rax, immediate: 0)
    a.jump(to: finish)
    emitErrno(invalid, .invalid, finish: finish)
  }

  /// `xdp_adjust_tail(ctx, offset)`, as ``Machine/adjustTail(_:)``: growing
  /// clears the bytes past the old end.
  private mutating func emitAdjustTail(_ index: Int, finish: CodeLabel) {
    let r = JITRegisters.self
    let (invalid, set) = (a.makeLabel(), a.makeLabel())
    a.extend(0x63, .rdx, .rsi, wide: true)
    a.load(.r8, r.scratch, Self.field(\.end))
    a.move(.rsi, .r8)
    a.arithmetic(0x01, .rsi, .rdx, wide: true)
    a.compare(.rsi, memory: r.scratch, Self.field(\.hardEnd))
    a.jump(.greater, to: invalid)
    a.load(r.address, r.scratch, Self.field(\.data))
    a.arithmetic(
      digit: 0, r.address, immediate: Int32(Machine.ethernetHeaderLength), wide: true)
    a.arithmetic(0x39, .rsi, r.address, wide: true)
    a.jump(.less, to: invalid)
    a.test(.rdx, .rdx, wide: true)
    a.jump(.lessOrEqual, to: set)
    emitRangeCheck(.r8, count: .rdx, fail: set)
    a.move(r.address, .rdx)
    emitCharge(index)
    a.move(.rdi, .r8)
    a.add(.rdi, memory: r.context, JITContext.arena)
    a.move(.rcx, .rdx)
    a.move(.rax, immediate: 0)
    a.emit(0xf3, 0xaa)  // rep stosb
    a.bind(set)
    a.store(.rsi, r.scratch, Self.field(\.end))
    emitRecordBounds()
    a.move(.rax, immediate: 0)
    a.jump(to: finish)
    emitErrno(invalid, .invalid, finish: finish)
  }

  /// `xdp_adjust_meta(ctx, offset)`, as ``Machine/adjustMeta(_:)``.
  private mutating func emitAdjustMeta(finish: CodeLabel) {
    let r = JITRegisters.self
    let (unsupported, invalid, denied) = (a.makeLabel(), a.makeLabel(), a.makeLabel())
    a.load(.rax, r.scratch, Self.field(\.data))
    a.load(.r8, r.scratch, Self.field(\.meta))
    a.arithmetic(0x39, .r8, .rax, wide: true)
    a.jump(.above, to: unsupported)
    a.extend(0x63, .rdx, .rsi, wide: true)
    a.arithmetic(0x01, .r8, .rdx, wide: true)
    a.load(r.address, r.scratch, Self.field(\.hardStart))
    a.arithmetic(digit: 0, r.address, immediate: Int32(Machine.xdpFrameSize), wide: true)
    a.arithmetic(0x39, .r8, r.address, wide: true)
    a.jump(.less, to: invalid)
    a.arithmetic(0x39, .r8, .rax, wide: true)
    a.jump(.greater, to: invalid)
    a.move(.rcx, .rax)
    a.arithmetic(0x29, .rcx, .r8, wide: true)
    a.test(.rcx, immediate: 3, wide: true)
    a.jump(.notEqual, to: denied)
    a.arithmetic(digit: 7, .rcx, immediate: Int32(Machine.metadataLimit), wide: true)
    a.jump(.above, to: denied)
    a.store(.r8, r.scratch, Self.field(\.meta))
    emitRecordBounds()
    a.move(.rax, immediate: 0)
    a.jump(to: finish)
    emitErrno(unsupported, .notSupported, finish: finish)
    emitErrno(invalid, .invalid, finish: finish)
    emitErrno(denied, .accessDenied, finish: finish)
  }

  /// Writes the bounds in R10's bookkeeping into the record the saved R1
  /// points to (`data`, `data_end`, `data_meta`). Clobbers RDI and R11.
  private mutating func emitRecordBounds() {
    let r = JITRegisters.self
    let layout = XDPContextLayout.engine
    a.load(.rdi, .rsp, 32)
    a.add(.rdi, memory: r.context, JITContext.arena)
    for (source, field) in [
      (Self.field(\.data), layout.data), (Self.field(\.end), layout.dataEnd),
      (Self.field(\.meta), layout.dataMeta),
    ] {
      a.load(r.address, r.scratch, source)
      a.memoryForm(
        [0x89], wide: false, reg: r.address.number, base: .rdi, displacement: Int32(field))
    }
  }
}
