/// Loads, stores, atomics and the legacy packet loads. Every access is
/// checked against the address space as the interpreter's ``MemoryView``
/// checks it (the page's region must hold all `size` bytes), except a
/// constant offset from R10, or from a register that holds R10 plus a
/// constant on every path (``StackPointers``), that lies inside the
/// current 512-byte stack frame, which cannot leave it; and, in the copy
/// of the body that follows proofs (``PacketRanges``), an access within
/// the packet range the program proved and the code checked, or within
/// the record a batch form's cursor points at (``RecordCursors``); an
/// access within an array map's value the program looked up and checked for 0
/// (``MapValuePointers``); and an access
/// within the bytes an earlier check in the same basic block allowed
/// through the same, unchanged register (``CheckedSpans``).
extension JITCompiler {
  mutating func emitMemory(_ s: Slot, at index: Int) {
    let d = JITRegisters.bpf(s.dst)
    let x = JITRegisters.bpf(s.src)
    let k = Int32(truncatingIfNeeded: s.immediate)
    let host = JITRegisters.address
    switch s.operation {
    case .loadByte, .loadHalf, .loadWord, .loadDouble, .loadSignedByte, .loadSignedHalf,
      .loadSignedWord:
      let (opcode, size, wide): ([UInt8], Int, Bool) =
        switch s.operation {
        case .loadByte: ([0x0f, 0xb6], 1, false)
        case .loadHalf: ([0x0f, 0xb7], 2, false)
        case .loadWord: ([0x8b], 4, false)
        case .loadDouble: ([0x8b], 8, true)
        case .loadSignedByte: ([0x0f, 0xbe], 1, true)
        case .loadSignedHalf: ([0x0f, 0xbf], 2, true)
        default: ([0x63], 4, true)
        }
      let operand = hostOperand(s.src, s.offset, size: size, write: false, index)
      a.memoryForm(
        opcode, wide: wide, reg: d.number, base: host, index: operand.index,
        displacement: operand.displacement)
    case .storeByte, .storeHalf, .storeWord, .storeDouble:
      let size = s.operation.storeSize!
      let operand = hostOperand(s.dst, s.offset, size: size, write: true, index)
      a.memoryForm(
        size == 1 ? [0x88] : [0x89], wide: size == 8, reg: x.number, base: host,
        index: operand.index, displacement: operand.displacement,
        prefix: size == 2 ? [0x66] : [], byteRegisters: size == 1)
    case .storeImmediateByte, .storeImmediateHalf, .storeImmediateWord, .storeImmediateDouble:
      let size = s.operation.storeSize!
      let operand = hostOperand(s.dst, s.offset, size: size, write: true, index)
      a.memoryForm(
        size == 1 ? [0xc6] : [0xc7], wide: size == 8, reg: 0, base: host,
        index: operand.index, displacement: operand.displacement,
        prefix: size == 2 ? [0x66] : [])
      switch size {
      case 1: a.emit(UInt8(truncatingIfNeeded: k))
      case 2: a.emit(UInt8(truncatingIfNeeded: k), UInt8(truncatingIfNeeded: k >> 8))
      default: a.emit32(k)
      }
    case .packetLoadAbsoluteByte, .packetLoadAbsoluteHalf, .packetLoadAbsoluteWord,
      .packetLoadIndirectByte, .packetLoadIndirectHalf, .packetLoadIndirectWord:
      flush()
      // The callback reads the index register from the register file:
      // every register goes there, R6-R10 included (R10 is the current
      // frame's, which only RBP holds inside a subprogram).
      callBack(JITBridge.legacyLoad, saving: 0...10) { a in
        a.move(.rsi, immediate: UInt64(s.operation.rawValue) | UInt64(s.src) << 8)
        a.move(.rdx, immediate: UInt64(bitPattern: s.immediate))
      }
      restore(1...5)
      a.move(.rax, host)
    case .atomicAdd32, .atomicOr32, .atomicAnd32, .atomicXor32, .atomicFetchAdd32,
      .atomicFetchOr32, .atomicFetchAnd32, .atomicFetchXor32, .atomicExchange32,
      .atomicCompareExchange32, .atomicAdd64, .atomicOr64, .atomicAnd64, .atomicXor64,
      .atomicFetchAdd64, .atomicFetchOr64, .atomicFetchAnd64, .atomicFetchXor64,
      .atomicExchange64, .atomicCompareExchange64:
      // Checked here; add, or, and, xor, fetch-add and exchange on an
      // aligned address are one locked instruction, the rest (and a
      // misaligned address, which a locked instruction would split
      // across cache lines) are performed by the engine's own code.
      let wide = s.operation.isWideAtomic
      let displacement = checkedAddress(s.dst, s.offset, size: wide ? 8 : 4, write: true, index)
      if displacement != 0 { a.loadAddress(host, host, displacement) }
      let done = a.makeLabel()
      if let opcode = lockedOpcode(s) {
        let slow = a.makeLabel()
        a.test(host, immediate: wide ? 7 : 3, wide: true)
        a.jump(.notEqual, to: slow)
        a.memoryForm(
          opcode, wide: wide, reg: x.number, base: host, displacement: 0,
          prefix: opcode == [0x87] ? [] : [0xf0])
        a.jump(to: done)
        a.bind(slow)
      }
      // The source may be any register, R10 included (the current
      // frame's pointer is in RBP only), so all of them are saved.
      callBack(JITBridge.atomic, saving: 0...10) { a in
        a.move(.rsi, host)
        a.move(.rdx, immediate: UInt64(s.operation.rawValue) | UInt64(s.src) << 8)
      }
      restore(0...9)
      a.bind(done)
    default:
      preconditionFailure("\(s.operation) is not a memory access")
    }
  }

  /// The opcode of the locked x86 instruction that performs atomic `s`
  /// (`lock add/or/and/xor [mem], src`, `lock xadd`, `xchg`), or nil.
  /// A fetch into R10 (the frame pointer, which only RBP holds) is left
  /// to the engine's code, which writes the register file as the
  /// interpreter does.
  private func lockedOpcode(_ s: Slot) -> [UInt8]? {
    switch s.operation {
    case .atomicAdd32, .atomicAdd64: return [0x01]
    case .atomicOr32, .atomicOr64: return [0x09]
    case .atomicAnd32, .atomicAnd64: return [0x21]
    case .atomicXor32, .atomicXor64: return [0x31]
    case .atomicFetchAdd32, .atomicFetchAdd64: return s.src == 10 ? nil : [0x0f, 0xc1]
    case .atomicExchange32, .atomicExchange64: return s.src == 10 ? nil : [0x87]
    default: return nil
    }
  }

  /// Leaves in R11 the host address of `size` bytes at BPF register
  /// `base` + `offset`, less the returned displacement, or jumps to a
  /// fault stub naming the instruction, the address and the size.
  mutating func checkedAddress(
    _ base: UInt8, _ offset: Int32, size: Int, write: Bool, _ index: Int
  ) -> Int32 {
    let operand = hostOperand(base, offset, size: size, write: write, index)
    if let register = operand.index {
      a.arithmetic(0x01, JITRegisters.address, register, wide: true)
      arenaInAddress = false
    } else if operand.displacement != 0 {
      address = .unknown  // the caller moves R11 by the displacement
    }
    return operand.displacement
  }

  /// The host operand of `size` bytes at BPF register `base` + `offset`:
  /// R11 plus `index` (when set) plus `displacement`, or a jump to a fault
  /// stub naming the instruction, the address and the size. An access
  /// that needs no check is addressed as the arena (R11, loaded once per
  /// basic block while nothing clobbers it: ``arenaInAddress``) plus the
  /// BPF register plus the offset, one instruction as the kernel's JIT
  /// emits it; a checked one leaves its host address in R11.
  mutating func hostOperand(
    _ base: UInt8, _ offset: Int32, size: Int, write: Bool, _ index: Int
  ) -> (index: X86Register?, displacement: Int32) {
    let r = JITRegisters.self
    if let frame = stackPointers.offset(of: base, at: index) {
      let start = Int64(frame) + Int64(offset)
      if start >= -Int64(Machine.frameSize) && start + Int64(size) <= 0 {
        loadArena()
        return (.rbp, Int32(start))
      }
    }
    if case .host(of: base, let plus) = address,
      checkedSpans.holds(base, offset, size: size, write: write)
    {
      // R11 holds the host address of the register plus `plus`: the same
      // base as the check's access, so a store and a load of one slot
      // address their bytes alike, with no arena load between them.
      return (nil, offset &- plus)
    }
    // A record's `struct xdp_md` is read-only to programs: a store
    // through the batch cursor is proven in the record's writable tail
    // only (``AddressSpace/protectRecords(_:)``).
    let recordBytes = write ? Int64(AddressSpace.recordWritableStart) : 0
    if (provenBody && packetRanges.proves(base, offset, size: size, at: index))
      || (provenBody && Int64(offset) >= recordBytes
        && records.proves(base, offset, size: size, at: index))
      || mapValues.proves(base, offset, size: size, write: write, at: index)
      || checkedSpans.holds(base, offset, size: size, write: write)
    {
      loadArena()
      return (r.bpf(base), offset)
    }
    if provenBody, !write, packetRanges.trustedLoads.contains(index) {
      // The record the entry's check found R1 to name: mapped and
      // readable for the whole call (``emitTrustCheck()``).
      loadArena()
      return (r.bpf(base), offset)
    }
    if provenBody, !write, contextFields.contains(index) {
      // `data` and `data_end` in one check (``contextFieldSites``); where
      // the 8 bytes are not in one region, the checked copy checks this
      // access alone and names its own fault.
      a.loadAddress(r.address, r.bpf(base), 0)
      emitWindowCheck(
        size: Self.contextFieldBytes, fault: copyExit(index),
        region: windowRegion(of: base, at: index))
      address = .host(of: base, plus: 0)
      checkedSpans.record(base, 0, size: Self.contextFieldBytes, write: false)
      return (nil, offset)
    }
    let fault = stub(.memoryFault, index, size: size, write: write)
    a.loadAddress(r.address, r.bpf(base), offset)
    emitWindowCheck(
      size: size, fault: fault, region: windowRegion(of: base, at: index, write: write),
      write: write)
    address = .host(of: base, plus: offset)
    checkedSpans.record(base, offset, size: size, write: write)
    return (nil, 0)
  }

  /// The context's `data` and `data_end` (``XDPContextLayout/engine``):
  /// the first 8 bytes of the record.
  static let contextFieldBytes = 8

  /// The loads, in a program with proven packet ranges, that read 4 bytes
  /// or fewer of the first ``contextFieldBytes`` of the context (R1 at the
  /// entry, its copies and fills: ``PacketRanges``) and that no earlier
  /// such check in their basic block covers: in the proven copy their
  /// check covers all 8 bytes (``CheckedSpans``), so the other field's
  /// load through the same register needs none. Each is a leader: where
  /// the 8 bytes are not in one region (a context pointer that is not
  /// what it claims), the code continues in the checked copy at that
  /// slot, which checks the access alone, so the fault, its address and
  /// size are the interpreter's.
  static func contextFieldSites(
    slots: UnsafeMutablePointer<Slot>, count: Int, leaders: [Bool], packetRanges: PacketRanges
  ) -> Set<Int> {
    var sites = Set<Int>()
    var spans = CheckedSpans()
    var index = 0
    while index < count {
      if leaders[index] { spans = CheckedSpans() }
      let slot = slots[index]
      let size: Int? =
        switch slot.operation {
        case .loadByte, .loadSignedByte: 1
        case .loadHalf, .loadSignedHalf: 2
        case .loadWord, .loadSignedWord: 4
        default: nil
        }
      if let size, slot.src < 10, slot.offset >= 0,
        Int(slot.offset) + size <= contextFieldBytes,
        packetRanges.value(of: slot.src, at: index) == .context,
        !packetRanges.trustedLoads.contains(index),
        !spans.holds(slot.src, slot.offset, size: size, write: false)
      {
        sites.insert(index)
        spans = CheckedSpans()
        spans.record(slot.src, 0, size: contextFieldBytes, write: false)
      }
      spans.forget(after: slot)
      index += slot.operation == .loadImmediate64 ? 2 : 1
    }
    return sites
  }

  /// R11 = the arena, unless it holds it already.
  private mutating func loadArena() {
    guard !arenaInAddress else { return }
    a.load(JITRegisters.address, JITRegisters.context, JITContext.arena)
    arenaInAddress = true
  }

  /// At the body's start, where native tail calls enter too: continues in
  /// the checked copy unless R1 is the record the caller named for this
  /// call (``JITContext/trustedRecord``), which ``Machine/trustedRecord(_:)``
  /// names only when its frame's bounds, and every bound the packet
  /// helpers can move them to, lie in pages open up to the frame's end:
  /// what a packet guard would find at every compare of `data` with that
  /// record's `data_end` (``PacketRanges/trustedSites``), and a record
  /// that is mapped (``PacketRanges/trustedLoads``).
  /// The block holds 0 when no record is named, and no record is at 0
  /// (the space maps nothing there), so an R1 of 0 is never trusted.
  /// Where a proof reads through the batch form's cursor
  /// (``PacketRanges/trustsBatch``), R2 must be the count the entry named
  /// too (``JITContext/trustedCount``, which ``Machine/trustedCount(_:_:)``
  /// names only when every record of `[R1, R1 + R2 × 32)` passes the test
  /// of one): the cursor's records (``RecordCursors``) are then those.
  mutating func emitTrustCheck() {
    let r = JITRegisters.self
    let checked = edge(to: checkedLabels[0], lag: 0)
    a.compare(r.bpf(1), memory: r.context, JITContext.trustedRecord)
    a.jump(.notEqual, to: checked)
    a.test(r.bpf(1), r.bpf(1), wide: true)
    a.jump(.equal, to: checked)
    if packetRanges.trustsBatch {
      a.compare(r.bpf(2), memory: r.context, JITContext.trustedCount)
      a.jump(.notEqual, to: checked)
    }
  }

  /// At a compare that raises a proven range to `bytes` from its start
  /// (``PacketRanges/proofSites``: `data`, or `data` plus a variable part),
  /// with the site's register = start + `bytes`: continues in the fully
  /// checked copy of the body at this slot unless the region of the
  /// start's page, as the page table says, reaches the `data_end` in the
  /// site's `end` register (the walk a checked access makes: the region of
  /// the start's page ends at or past the access's end). On the edge that
  /// proves the bytes, start + `bytes` is at most that `data_end`, so they
  /// lie in the region; so do those of every later compare with the same
  /// `data_end` from the same start, which need no guard
  /// (``PacketRanges/coveredSites``). `data` is a 32-bit load's
  /// value (``PacketRanges``), so its page always has an entry in the
  /// table (``AddressSpace/tableEntries``; 0 past the space's pages, which
  /// sends the run to the checked copy); a start with a variable part is
  /// compared with the table's size first. Clobbers R10 and R11.
  mutating func emitPacketGuard(_ site: PacketRanges.Site, _ index: Int) {
    let r = JITRegisters.self
    let pointer = r.bpf(site.register)
    let checked = copyExit(index)
    a.move(r.address, pointer)
    a.arithmetic(digit: 5, r.address, immediate: site.bytes, wide: true)
    a.shift(digit: 5, r.address, by: 12, wide: true)
    if site.variable {
      // data plus a variable part may lie past the table's pages.
      a.arithmetic(digit: 7, r.address, immediate: Int32(AddressSpace.tableEntries), wide: true)
      a.jump(.aboveOrEqual, to: checked)
    }
    // The write table: a proven range is stored to too, and a packet
    // pointer into a record's `struct xdp_md` (a lying `data`) is none.
    a.load(r.scratch, r.context, JITContext.writeLimits)
    a.memoryForm(
      [0x8b], wide: false, reg: r.scratch.number, base: r.scratch, index: r.address, scale: 4,
      displacement: 0)
    // The region's end against data_end: the n bytes lie before it on the
    // edge that proves them, and so do those of every later compare with
    // the same data_end from the same start (``PacketRanges/State/covers(end:variable:)``).
    a.arithmetic(0x39, r.scratch, r.bpf(site.end), wide: true)
    a.jump(.below, to: checked)
  }
}

/// What the checks of the current basic block allowed: per register R0-R10,
/// the bytes from its value plus `low` to its value plus `high` that one
/// checked access covered. A later access of bytes inside them through the
/// same register, with no write to it and no call between, lies in the
/// same region (an allowed access lies wholly in one region, and only
/// Swift code, which a call or an atomic may run, changes the page
/// table), so it needs no check of its own.
struct CheckedSpans {
  private var spans: [(low: Int64, high: Int64, write: Bool)?] = Array(repeating: nil, count: 11)

  /// Whether the bytes lie in a span a check allowed: for a store
  /// (`write`), a store's check (a load's allows what programs may read,
  /// a record's `struct xdp_md` too).
  func holds(_ register: UInt8, _ offset: Int32, size: Int, write: Bool) -> Bool {
    guard register <= 10, let span = spans[Int(register)], span.write || !write else {
      return false
    }
    return Int64(offset) >= span.low && Int64(offset) + Int64(size) <= span.high
  }

  mutating func record(_ register: UInt8, _ offset: Int32, size: Int, write: Bool) {
    guard register <= 10 else { return }
    spans[Int(register)] = (Int64(offset), Int64(offset) + Int64(size), write)
  }

  /// Forgets what `slot` may change: its destination register, or
  /// everything after a call, an atomic or a legacy packet load.
  mutating func forget(after slot: Slot) {
    switch slot.operation.family {
    case .arithmetic, .byteOrder, .load, .loadImmediate64:
      if slot.dst <= 10 { spans[Int(slot.dst)] = nil }
    case .store, .jump:
      break
    default:
      self = CheckedSpans()
    }
  }
}
