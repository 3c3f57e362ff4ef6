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
    /// Stores through anything else: filled from the write table
    /// (``AddressSpace/writeLimits``), so a load's answer (a record's
    /// `struct xdp_md` is readable) never passes a store.
    case otherStore
    /// Stores through a packet pointer, from the write table.
    case packetStore

    /// Whether the window caches the write table's answers.
    var isStore: Bool { self == .otherStore || self == .packetStore }

    /// The window a store through a register holding this uses. A store
    /// through the context uses the context's (load) window behind a
    /// check that it lies in a record's writable tail
    /// (``AddressSpace/recordTailHolds(_:count:)``): where programs may
    /// read, they may write, but for a record's `struct xdp_md`.
    var forStores: Region {
      switch self {
      case .other, .otherStore: .otherStore
      case .packet, .packetStore: .packetStore
      case .context: .context
      }
    }

    /// The offset in the block of the window's page (`low`).
    @inline(__always) var low: Int32 {
      switch self {
      case .other: JITContext.windowLow
      case .context, .packet:
        JITContext.regionWindows + AccessWindow.bytes * Int32(rawValue - 1)
      case .otherStore, .packetStore:
        JITContext.storeWindows + AccessWindow.bytes * Int32(rawValue - 3)
      }
    }

    /// The offset of `span` for an access of `size` bytes.
    @inline(__always) func span(size: Int) -> Int32 {
      low + 8 + 8 * Int32(size.trailingZeroBitCount)
    }

    /// The offset of the host address of ``low``.
    var host: Int32 { low + 40 }

    /// The page table the window caches.
    var table: Int32 { isStore ? JITContext.writeLimits : JITContext.limits }
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
    private(set) var used: Set<Region> = [.other, .otherStore]
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
          case .call where slot.operation != .exit: [1, 2, 3, 4, 5]  // the inline helpers' arguments
          default: []
          }
        for base in bases { used.insert(guess(base, at: index, packetRanges)) }
        if [.store, .atomic].contains(slot.operation.family) {
          used.insert(guess(slot.dst, at: index, packetRanges).forStores)
        }
        // A native tail call enters its target's body past the target's
        // prologue, and the target may use any window: the entry empties
        // them all, or a target could pass an access on an answer left
        // from an earlier run (whose frames the page table then allowed).
        if slot.operation == .tailCall { used.formUnion(Region.allCases) }
      }
    }

    /// The window of an access (a store when `write`) through `base`
    /// before slot `index`.
    func region(
      of base: UInt8, at index: Int, write: Bool = false, _ packetRanges: PacketRanges
    ) -> Region {
      let guessed = guess(base, at: index, packetRanges)
      let region = write ? guessed.forStores : guessed
      return used.contains(region) ? region : (write ? .otherStore : .other)
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
