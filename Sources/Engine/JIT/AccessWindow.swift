import BPF

/// The JIT's cheap memory check: windows of addresses that the address
/// space's page table was last seen to allow, kept in the context block.
///
/// The page table (``AddressSpace``) gives each page the end of the
/// reachable range it belongs to; an access is allowed when its first
/// byte's page is below the page count and its last byte is below that
/// page's end. A window caches one page's answer: after a walk for an
/// access starting in page P (end E), it holds `low` = P's first address,
/// `host` = the arena plus `low`, and for each access size S (1, 2, 4, 8)
/// `span[S]` = how many starts from `low` on end by E without starting
/// past P: max(0, min(E - S, P's last address) - low + 1). A later access
/// of S bytes at A with `A - low < span[S]` (unsigned, so an A below `low`
/// wraps and fails) starts in P and ends by E, so the walk would allow it:
/// one subtraction and one compare, and its host address is `host + (A -
/// low)`. Any other access walks the table as before (a fault is the
/// interpreter's error) and, when allowed, refills the window from its
/// own page.
///
/// There is one window per ``Region``, chosen when the access is compiled
/// from what its base register holds, so that accesses to different
/// regions do not evict each other: the batch form's verdict store to a
/// record and the body's atomic on a map value (xdp_stack_helper), or its
/// context reads and packet reads (xdp_classify), each keep their own
/// page across the loop. Which window an access uses never changes what
/// it is allowed: every window holds only a page-table answer.
///
/// The windows are emptied (every span 0: no access passes) whenever the
/// engine refreshes the block (``JITRuntime/refresh(_:)``: when a run or a
/// series is armed, and after a helper, the only place where the page
/// table can change under a run), and all of them when the code is
/// entered after the page table changed since they were filled: a refill
/// records the space's ``AddressSpace/generation``, which every change of
/// the table bumps, and the prologue keeps the windows only while it is
/// unchanged (a driver loop calling the same code over records keeps its
/// pages; a runner that lends frames between the runs of a series empties
/// only the windows on the frames' pages instead, ``Machine/lendPages(from:to:)``). All of them, not only those the code uses: a window filled
/// before the change and left by code that does not use it would pass
/// accesses on a stale answer once another refill records the new
/// generation; and a native tail call's target, which starts past its
/// own prologue, may use any.
enum AccessWindow {
  /// Bytes of one window in the block: the page's first address, the
  /// four spans, the host address.
  static let bytes: Int32 = 48

  /// What an access's base register holds (``PacketRanges``), which
  /// picks its window.
  enum Region: Int, CaseIterable {
    /// Anything else: stack pointers the JIT does not follow, map values,
    /// pointers of unknown origin.
    case other
    /// The context: the record R1 points to at the entry, or the batch
    /// form's cursor stepped by whole records.
    case context
    /// The packet's `data` plus a known offset.
    case packet

    /// The offset in the block of the window's page (`low`).
    @inline(__always) var low: Int32 {
      self == .other
        ? JITContext.windowLow
        : JITContext.regionWindows + AccessWindow.bytes * Int32(rawValue - 1)
    }

    /// The offset of `span` for an access of `size` bytes.
    @inline(__always) func span(size: Int) -> Int32 {
      low + 8 + 8 * Int32(size.trailingZeroBitCount)
    }

    /// The offset of the host address of ``low``.
    var host: Int32 { low + 40 }
  }

  /// Which window each checked access of a program uses. A base
  /// register that ``PacketRanges`` knows as a packet pointer uses the
  /// packet's window; one that holds the context, as a pass of its own
  /// follows it, the context's: R1 at the entry, its copies, the same
  /// moved by whole records, and 64-bit fills of stack slots it was
  /// stored to, which (unlike PacketRanges, whose proofs must hold) it
  /// keeps across calls: the batch form's cursor, filled from its slot
  /// after the body's helpers and stepped at the loop's back edge. A guess
  /// is enough: a window only caches the page table, so the wrong one
  /// costs a walk, never an access the table would refuse.
  struct Plan {
    /// The windows the code uses: the shared one, and a region's own
    /// when some access's base register holds it.
    private(set) var used: Set<Region> = [.other]
    /// Per slot, the registers R0-R9 that hold the context (nil: no path
    /// reaches the slot).
    private var contexts: [[Bool]?] = []

    init() {}

    init(slots: UnsafeMutablePointer<Slot>, count: Int, packetRanges: PacketRanges) {
      contexts = Self.contexts(slots, count).map { $0?.registers }
      for index in 0..<count {
        let slot = slots[index]
        let bases: [UInt8] =
          switch slot.operation.family {
          case .load: [slot.src]
          case .store, .atomic: [slot.dst]
          case .call where slot.operation != .exit: [1, 2, 3, 4, 5]  // the inline helpers' arguments
          default: []
          }
        for base in bases { used.insert(guess(base, at: index, packetRanges)) }
        // A native tail call enters its target's body past the target's
        // prologue, and the target may use any window: the entry empties
        // them all, or a target could pass an access on an answer left
        // from an earlier run (whose frames the page table then allowed).
        if slot.operation == .tailCall { used.formUnion(Region.allCases) }
      }
    }

    /// The window of an access through `base` before slot `index`.
    func region(of base: UInt8, at index: Int, _ packetRanges: PacketRanges) -> Region {
      let region = guess(base, at: index, packetRanges)
      return used.contains(region) ? region : .other
    }

    private func guess(_ base: UInt8, at index: Int, _ packetRanges: PacketRanges) -> Region {
      switch packetRanges.value(of: base, at: index) {
      case .packet, .variablePacket: return .packet
      default: break
      }
      guard base < 10, index < contexts.count, let registers = contexts[index] else {
        return .other
      }
      return registers[Int(base)] ? .context : .other
    }

    private struct State: Equatable {
      var registers = [Bool](repeating: false, count: 10)
      /// Offsets from R10 of 8-byte slots that hold the context.
      var slots: Set<Int32> = []

      func meet(_ other: State) -> State {
        State(
          registers: zip(registers, other.registers).map { $0 && $1 },
          slots: slots.intersection(other.slots))
      }
    }

    private static func contexts(_ slots: UnsafeMutablePointer<Slot>, _ count: Int) -> [State?] {
      var entry = State()
      entry.registers[1] = true
      let entries =
        [(slot: 0, state: entry)]
        + (0..<count).filter { slots[$0].operation == .callLocal }.map {
          (slot: Int(slots[$0].offset), state: State())
        }
      let stride = Int64(XDPContextLayout.engine.stride)
      return SlotFlow.solve(count: count, entries: entries, meet: { $0.meet($1) }) {
        index, state in
        var state = state
        let slot = slots[index]
        let next = index + (slot.operation == .loadImmediate64 ? 2 : 1)
        func set(_ register: UInt8, _ value: Bool) {
          if register < 10 { state.registers[Int(register)] = value }
        }
        func holds(_ register: UInt8) -> Bool {
          register < 10 && state.registers[Int(register)]
        }
        switch slot.operation.family {
        case .jump:
          return slot.operation == .ja
            ? [(Int(slot.offset), state)] : [(Int(slot.offset), state), (next, state)]
        case .call:
          guard slot.operation != .exit else { return [] }
          for register in 0...5 { state.registers[register] = false }
          return [(next, state)]
        case .trap:
          return []
        case .store:
          guard slot.dst == 10, let size = slot.operation.storeSize else { break }
          let start = Int64(slot.offset)
          state.slots = state.slots.filter {
            Int64($0) + 8 <= start || start + Int64(size) <= Int64($0)
          }
          if slot.operation == .storeDouble, holds(slot.src) { state.slots.insert(slot.offset) }
        case .atomic:
          set(0, false)
          set(slot.src, false)
        case .packetLoad:
          for register in 0...5 { state.registers[register] = false }
        default:
          switch slot.operation {
          case .mov64X: set(slot.dst, holds(slot.src))
          case .add64K, .sub64K: set(slot.dst, holds(slot.dst) && slot.immediate % stride == 0)
          case .loadDouble where slot.src == 10: set(slot.dst, state.slots.contains(slot.offset))
          default: set(slot.dst, false)
          }
        }
        return [(next, state)]
      }
    }
  }

  /// Empties every window of the block at `context`.
  static func empty(_ context: UnsafeMutableRawPointer) {
    for region in Region.allCases {
      for size in [1, 2, 4, 8] {
        context.storeBytes(
          of: UInt64(0), toByteOffset: Int(region.span(size: size)), as: UInt64.self)
      }
    }
  }
}

extension JITCompiler {
  /// An access whose window check failed: the walk, then the refill.
  struct WindowMiss {
    var label: CodeLabel
    var resume: CodeLabel
    var fault: CodeLabel
    var size: Int
    var region: AccessWindow.Region
  }

  /// The window of an access through BPF register `base` before slot
  /// `index` (``AccessWindow/Plan``).
  func windowRegion(of base: UInt8, at index: Int) -> AccessWindow.Region {
    windows.region(of: base, at: index, packetRanges)
  }

  /// Leaves in R11 the host address of `size` bytes at R11 (a BPF
  /// address), or jumps to `fault` with the BPF address in R11: the
  /// window's subtraction and compare inline, the walk out of line.
  mutating func emitWindowCheck(
    size: Int, fault: CodeLabel, region: AccessWindow.Region = .other
  ) {
    let r = JITRegisters.self
    let region = windows.used.contains(region) ? region : .other
    let (miss, resume) = (a.makeLabel(), a.makeLabel())
    a.memoryForm(
      [0x2b], wide: true, reg: r.address.number, base: r.context, displacement: region.low)
    a.compare(r.address, memory: r.context, region.span(size: size))
    a.jump(.aboveOrEqual, to: miss)
    a.add(r.address, memory: r.context, region.host)
    a.bind(resume)
    windowMisses.append(
      WindowMiss(label: miss, resume: resume, fault: fault, size: size, region: region))
  }

  /// Plans the windows and, unless the page table is as it was when they
  /// were filled, empties every one of them (the prologue); clobbers R10.
  mutating func emitWindowReset() {
    windows = AccessWindow.Plan(slots: slots, count: slotCount, packetRanges: packetRanges)
    let r = JITRegisters.self
    let keep = a.makeLabel()
    a.load(r.scratch, r.context, JITContext.spaceGeneration)
    a.load(r.scratch, r.scratch, 0)
    a.compare(r.scratch, memory: r.context, JITContext.windowGeneration)
    a.jump(.equal, to: keep)
    for region in AccessWindow.Region.allCases {
      for size in [1, 2, 4, 8] {
        a.store(immediate: 0, r.context, region.span(size: size))
      }
    }
    a.bind(keep)
  }

  /// The out-of-line walks and the refill routines they share.
  mutating func emitWindowMisses() {
    guard !windowMisses.isEmpty else { return }
    let r = JITRegisters.self
    var refills: [AccessWindow.Region: CodeLabel] = [:]
    for miss in windowMisses {
      let refill = refills[miss.region] ?? a.makeLabel()
      refills[miss.region] = refill
      a.bind(miss.label)
      a.add(r.address, memory: r.context, miss.region.low)
      a.move(r.scratch, r.address)
      a.shift(digit: 5, r.scratch, by: 12, wide: true)
      a.compare(r.scratch, memory: r.context, JITContext.pages)
      a.jump(.aboveOrEqual, to: miss.fault)
      a.shift(digit: 4, r.scratch, by: 2, wide: true)
      a.add(r.scratch, memory: r.context, JITContext.limits)
      a.memoryForm(
        [0x8b], wide: false, reg: r.scratch.number, base: r.scratch, displacement: 0)
      a.arithmetic(digit: 5, r.scratch, immediate: Int32(miss.size), wide: true)
      a.arithmetic(0x39, r.address, r.scratch, wide: true)
      a.jump(.greater, to: miss.fault)
      a.call(refill)
      a.add(r.address, memory: r.context, JITContext.arena)
      a.jump(to: miss.resume)
    }
    for region in AccessWindow.Region.allCases {
      if let refill = refills[region] { emitWindowRefill(refill, region) }
    }
  }

  /// Refills `region`'s window from the page of R11 (an allowed access's
  /// address); clobbers R10 only.
  private mutating func emitWindowRefill(_ refill: CodeLabel, _ region: AccessWindow.Region) {
    let r = JITRegisters.self
    let reach = JITContext.windowScratch
    a.bind(refill)
    a.load(r.scratch, r.context, JITContext.spaceGeneration)
    a.load(r.scratch, r.scratch, 0)
    a.store(r.scratch, r.context, JITContext.windowGeneration)
    // reach = E - low, with E the page's range end (above R11, as the
    // access was allowed) and low the page's first address.
    a.move(r.scratch, r.address)
    a.shift(digit: 5, r.scratch, by: 12, wide: true)
    a.shift(digit: 4, r.scratch, by: 2, wide: true)
    a.add(r.scratch, memory: r.context, JITContext.limits)
    a.memoryForm([0x8b], wide: false, reg: r.scratch.number, base: r.scratch, displacement: 0)
    a.store(r.scratch, r.context, reach)
    a.move(r.scratch, r.address)
    a.arithmetic(digit: 4, r.scratch, immediate: -4096, wide: true)
    a.store(r.scratch, r.context, region.low)
    a.memoryForm([0x29], wide: true, reg: r.scratch.number, base: r.context, displacement: reach)
    a.add(r.scratch, memory: r.context, JITContext.arena)
    a.store(r.scratch, r.context, region.host)
    // A range that runs on past the page's last 8-byte start (the usual
    // case): every span is the whole page.
    let partial = a.makeLabel()
    a.compare(memory: r.context, reach, immediate: 4096 + 7)
    a.jump(.less, to: partial)
    for size in [1, 2, 4, 8] { a.store(immediate: 4096, r.context, region.span(size: size)) }
    a.ret()
    // span[S] = max(0, min(reach - S + 1, 4096)).
    a.bind(partial)
    for size in [1, 2, 4, 8] {
      let (capped, positive) = (a.makeLabel(), a.makeLabel())
      a.load(r.scratch, r.context, reach)
      a.arithmetic(digit: 5, r.scratch, immediate: Int32(size - 1), wide: true)
      a.arithmetic(digit: 7, r.scratch, immediate: 4096, wide: true)
      a.jump(.lessOrEqual, to: capped)
      a.move(r.scratch, immediate: 4096)
      a.bind(capped)
      a.test(r.scratch, r.scratch, wide: true)
      a.jump(.greater, to: positive)
      a.move(r.scratch, immediate: 0)
      a.bind(positive)
      a.store(r.scratch, r.context, region.span(size: size))
    }
    a.ret()
  }
}
