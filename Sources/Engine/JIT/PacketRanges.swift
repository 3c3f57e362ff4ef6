import BPF

/// Which registers hold the packet's `data` plus a known constant, and how
/// many bytes from `data` on the program has proven to lie before
/// `data_end`, before each slot: the part of the kernel verifier's
/// `PTR_TO_PACKET` tracking (`reg->range`, `find_good_pkt_pointers`,
/// `clear_all_pkt_pointers` in kernel/bpf/verifier.c) that lets the JIT
/// leave a packet access unchecked, stricter than the verifier:
///
/// - the context is R1 at the program's entry, its copies, the same moved
///   by whole records (the batch form's `r1 += 32`) and its 64-bit spills
///   to and fills from constant offsets of R10 (the batch form keeps its
///   cursor there; a call, an atomic or another store over the slot
///   forgets it), never at a subprogram's entry; `data` and `data_end`
///   are the 32-bit loads of its fields at their constant offsets
///   (``XDPContextLayout/engine``);
/// - a packet pointer moves only by `r += k` and `r -= k` (64-bit,
///   immediate), and stays within ±``limit`` of `data`;
/// - a range comes only from a 64-bit unsigned register compare of a
///   packet pointer `data + n` (n > 0) with `data_end`, in all eight forms
///   (`>`, `>=`, `<`, `<=`, either operand first), on the edge where the
///   pointer is at most `data_end`: then `[data, data + n)` lies before
///   `data_end`; `>=` and `<` give n, not n + 1;
/// - every call, tail call, atomic and legacy packet load (anything the JIT
///   may hand to Swift, which may move the packet) forgets all packet
///   pointers, `data_end` and the range (as `clear_all_pkt_pointers` does
///   for helpers that change packet data); joins keep what every path
///   agrees on and the smaller range.
///
/// - a load of `data` forgets every packet pointer and the range, so all
///   packet pointers derive from the last `data` loaded.
///
/// Nothing here is trusted by itself: the program's context may not be
/// what it claims and `data_end` may lie. At each compare that raises the
/// range (``proofSites``), the JIT's code checks that the n bytes from the
/// pointer's `data` lie in one region of the address space, as the
/// interpreter would check an access of them, and continues in a copy of
/// the program whose accesses are all checked when they do not.
struct PacketRanges {
  /// What a register holds.
  enum Value: Equatable {
    case context
    /// `data` plus the offset.
    case packet(Int32)
    case packetEnd
  }

  struct State: Equatable {
    var registers: [Value?] = Array(repeating: nil, count: 10)
    /// Bytes from `data` proven to lie before `data_end`.
    var range: Int32 = 0
    /// Offsets from R10 of 8-byte stack slots that hold the context.
    var spilledContext: Set<Int32> = []

    /// Forgets the packet pointers and the range (a new `data`).
    mutating func forgetPointers() {
      for n in 0..<10 {
        if case .packet = registers[n] { registers[n] = nil }
      }
      range = 0
    }

    mutating func forgetPacket() {
      for n in 0..<10 where registers[n] != .context && registers[n] != nil {
        registers[n] = nil
      }
      range = 0
    }

    func meet(_ other: State) -> State {
      var result = State()
      for n in 0..<10 where registers[n] == other.registers[n] {
        result.registers[n] = registers[n]
      }
      result.range = min(range, other.range)
      result.spilledContext = spilledContext.intersection(other.spilledContext)
      return result
    }
  }

  /// Per slot, the state before it; nil for a slot no path reaches.
  private(set) var before: [State?]
  /// The compares that raise the range: per slot, the register holding
  /// the packet pointer and its offset n from `data` (n > 0).
  private(set) var proofSites: [Int: (register: UInt8, bytes: Int32)] = [:]

  /// Packet offsets past this size are not tracked (the kernel's
  /// MAX_PACKET_OFF is 0xffff).
  static let limit: Int64 = 0xffff

  init(slots: UnsafeMutablePointer<Slot>, count: Int) {
    var entry = State()
    entry.registers[1] = .context
    let entries =
      [(slot: 0, state: entry)]
      + (0..<count).filter { slots[$0].operation == .callLocal }.map {
        (slot: Int(slots[$0].offset), state: State())
      }
    before = SlotFlow.solve(count: count, entries: entries, meet: { $0.meet($1) }) {
      index, state in
      var state = state
      var successors: [(slot: Int, state: State)] = []
      func reach(_ target: Int, _ state: State) { successors.append((target, state)) }
      let slot = slots[index]
      let next = index + (slot.operation == .loadImmediate64 ? 2 : 1)
      switch slot.operation.family {
      case .jump:
        var (taken, fallThrough) = (state, state)
        if let proven = Self.proof(slot, state) {
          if proven.taken {
            taken.range = max(taken.range, proven.range)
          } else {
            fallThrough.range = max(fallThrough.range, proven.range)
          }
        }
        reach(Int(slot.offset), taken)
        if slot.operation != .ja { reach(next, fallThrough) }
      case .call:
        guard slot.operation != .exit else { break }
        state.forgetPacket()
        state.spilledContext = []
        for register in 0...5 { state.registers[register] = nil }
        reach(next, state)
      case .trap:
        break
      case .atomic, .packetLoad:
        state.forgetPacket()
        state.spilledContext = []
        for register in 0...5 where slot.operation.family == .packetLoad {
          state.registers[register] = nil
        }
        if slot.operation.family == .atomic {
          state.registers[0] = nil
          if slot.src < 10 { state.registers[Int(slot.src)] = nil }
        }
        reach(next, state)
      default:
        Self.apply(slot, to: &state)
        reach(next, state)
      }
      return successors
    }
    for index in 0..<count where slots[index].operation.family == .jump {
      if let state = before[index], let proven = Self.proof(slots[index], state) {
        proofSites[index] = proven.site
      }
    }
  }

  /// What `register` holds before slot `index`.
  func value(of register: UInt8, at index: Int) -> Value? {
    guard register < 10, index < before.count else { return nil }
    return before[index]?.registers[Int(register)] ?? nil
  }

  /// Whether `size` bytes at `register` + `offset` lie in the proven range
  /// before slot `index`.
  func proves(_ register: UInt8, _ offset: Int32, size: Int, at index: Int) -> Bool {
    guard case .packet(let base) = value(of: register, at: index),
      let range = before[index]?.range
    else { return false }
    let start = Int64(base) + Int64(offset)
    return start >= 0 && start + Int64(size) <= Int64(range)
  }

  /// The range a compare proves, and on which edge.
  private static func proof(_ slot: Slot, _ state: State)
    -> (range: Int32, taken: Bool, site: (register: UInt8, bytes: Int32))?
  {
    guard slot.dst < 10, slot.src < 10 else { return nil }
    let (dst, src) = (state.registers[Int(slot.dst)], state.registers[Int(slot.src)])
    let pointerFirst: Bool
    let n: Int32
    if case .packet(let offset) = dst, src == .packetEnd {
      (pointerFirst, n) = (true, offset)
    } else if dst == .packetEnd, case .packet(let offset) = src {
      (pointerFirst, n) = (false, offset)
    } else {
      return nil
    }
    guard n > 0 else { return nil }
    let site = (register: pointerFirst ? slot.dst : slot.src, bytes: n)
    // The edge on which pointer <= data_end (or <) holds.
    switch (slot.operation, pointerFirst) {
    case (.jgtX, true), (.jgeX, true): return (n, false, site)  // if p > end (p >= end) goto
    case (.jltX, true), (.jleX, true): return (n, true, site)  // if p < end (p <= end) goto
    case (.jgtX, false), (.jgeX, false): return (n, true, site)  // if end > p (end >= p) goto
    case (.jltX, false), (.jleX, false): return (n, false, site)  // if end < p (end <= p) goto
    default: return nil
    }
  }

  private static func apply(_ slot: Slot, to state: inout State) {
    if slot.operation.family == .store {
      guard slot.dst == 10, let size = slot.operation.storeSize else { return }
      let start = Int64(slot.offset)
      state.spilledContext = state.spilledContext.filter {
        Int64($0) + 8 <= start || start + Int64(size) <= Int64($0)
      }
      if slot.operation == .storeDouble, slot.src < 10,
        state.registers[Int(slot.src)] == .context
      {
        state.spilledContext.insert(slot.offset)
      }
      return
    }
    guard slot.dst < 10 else { return }
    let dst = Int(slot.dst)
    if slot.operation == .loadDouble, slot.src == 10, state.spilledContext.contains(slot.offset) {
      state.registers[dst] = .context
      return
    }
    if state.registers[dst] == .context, slot.operation == .add64K || slot.operation == .sub64K {
      let stride = Int64(XDPContextLayout.engine.stride)
      state.registers[dst] = slot.immediate % stride == 0 ? .context : nil
      return
    }
    switch slot.operation {
    case .mov64X:
      state.registers[dst] = slot.src < 10 ? state.registers[Int(slot.src)] : nil
    case .add64K, .sub64K:
      guard case .packet(let offset) = state.registers[dst] else {
        state.registers[dst] = nil
        return
      }
      let moved =
        Int64(offset) + (slot.operation == .add64K ? slot.immediate : -slot.immediate)
      state.registers[dst] = abs(moved) <= limit ? .packet(Int32(moved)) : nil
    case .loadWord:
      let layout = XDPContextLayout.engine
      let fromContext = slot.src < 10 && state.registers[Int(slot.src)] == .context
      if fromContext && slot.offset == Int32(layout.data) { state.forgetPointers() }
      switch slot.offset {
      case Int32(layout.data) where fromContext: state.registers[dst] = .packet(0)
      case Int32(layout.dataEnd) where fromContext: state.registers[dst] = .packetEnd
      default: state.registers[dst] = nil
      }
    default:
      switch slot.operation.family {
      case .arithmetic, .byteOrder, .load, .loadImmediate64: state.registers[dst] = nil
      default: break
      }
    }
  }
}
