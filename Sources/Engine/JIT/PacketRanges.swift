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
/// - `data + n` plus a scalar register (`r += rS`, 64-bit) whose value
///   lies in `[0, limit]` (the verifier's bounds, kept here for constants
///   moved in, moved by `+= k`/`-= k` and joined: at most ``scalarWidth``
///   apart) is a pointer with a variable part, named by the slot that
///   added it: `data + V + n`. Its range is its own (`reg->range` of the
///   pointers that share the verifier's `id`), bytes from `data + V`; a
///   slot that adds a new variable part forgets the pointers and the range
///   of the one it added before (a loop's earlier pass);
/// - a range comes only from a 64-bit unsigned register compare of a
///   packet pointer `data + n` (n > 0) with `data_end`, in all eight forms
///   (`>`, `>=`, `<`, `<=`, either operand first), on the edge where the
///   pointer is at most `data_end`: then `[data, data + n)` lies before
///   `data_end`; `>=` and `<` give n, not n + 1;
/// - every helper call, tail call, `callx`, atomic and legacy packet load
///   (anything the JIT may hand to Swift, which may move the packet)
///   forgets all packet pointers, `data_end` and the range (as
///   `clear_all_pkt_pointers` does for helpers that change packet data);
///   joins keep what every path agrees on and the smaller range;
/// - a bpf-to-bpf call hands its callee R1 - R5 as they are (the
///   verifier's `set_callee_state`), each packet pointer `data + n` or
///   `data + V + n` (n >= 0) as `data` plus a variable part named by the
///   entry and the register (``entryVariable(_:_:)``), with the range
///   left past it, so call sites that pass different n join; a
///   subprogram's entry is reached from its call sites only. The caller's
///   R6 - R9 keep their pointers, and the range stands, when the callee's
///   code and its callees' hand nothing to Swift
///   (``calleesKeepingThePacket(slots:count:)``; the verifier keeps them
///   unless the callee changes packet data);
///
/// - a helper that writes no memory through its arguments
///   (``leavesTheStack(_:)``: map lookups and updates, redirects, the
///   packet adjustments, the clock, the random number, csum_diff) keeps
///   the context's spills, as the verifier keeps the stack's contents
///   across such a call: the batch form's cursor survives xdp1's lookup;
/// - a load of `data` forgets every packet pointer and the range, so all
///   packet pointers derive from the last `data` loaded.
///
/// Nothing here is trusted by itself: the program's context may not be
/// what it claims and `data_end` may lie. At a compare that raises the
/// range (``proofSites``) from fields not read through the record the
/// entry vouched for (``trustedSites``), the JIT's code checks that the region of the
/// start's page (`data`, or `data + V`) reaches the `data_end` compared
/// with, as the interpreter would check an access of the bytes up to it,
/// and continues in a copy of the program whose accesses are all checked
/// when it does not. That guard covers every later compare with the same
/// `data_end` from the same start (``coveredSites``, no guard): on the
/// edge that proves n bytes, `start + n <= data_end <= region end`. A
/// guard of `data` covers `data + V` too, V >= 0. The fact lives in the
/// state (``State/guarded``, per variable part ``State/guardedVariables``,
/// about the `data_end` of ``State/ends``): joins keep it where every path
/// has it; a new load of `data` or `data_end`, and whatever forgets the
/// pointers, forgets it.
struct PacketRanges {
  /// Per slot, the state before it; nil for a slot no path reaches.
  private(set) var before: [State?]
  /// A compare that raises a range: the register holding the packet
  /// pointer and its offset n (n > 0) from `data`, or from `data` plus its
  /// variable part when `variable`: then the start the guard checks from,
  /// the register less n, is not `data`, a 32-bit load, and may lie past
  /// the 32-bit range.
  struct Site: Equatable {
    var register: UInt8
    var bytes: Int32
    var variable = false
    /// The register holding `data_end`, which the guard checks the
    /// start's region against.
    var end: UInt8 = 0
  }

  /// The compares that raise a range and need a guard, per slot.
  private(set) var proofSites: [Int: Site] = [:]
  /// The compares that raise a range an earlier guard covers (no guard),
  /// per slot.
  private(set) var coveredSites: [Int: Site] = [:]
  /// The proof sites with `data` and `data_end` both read through the
  /// entry's R1 (``State/trusts(end:)``): no guard, the entry's check of R1
  /// stands for it, and the guard's fact holds after them as after one.
  private(set) var trustedSites: [Int: Site] = [:]
  /// The proof sites that are not trusted: each has a packet guard.
  private(set) var guardSites: [Int: Site] = [:]
  /// The loads through a register holding the entry's R1, within one
  /// record: the record is mapped and readable whenever the entry's check
  /// passed, so in the proven copy they need no check.
  private(set) var trustedLoads: Set<Int> = []
  /// Whether the proven copy relies on the entry's check of R1.
  var trusts: Bool { !trustedSites.isEmpty || !trustedLoads.isEmpty }
  /// Whether a trusted site's `data` and `data_end` were read through a
  /// record of the batch (``Source/record(_:)``): the entry's check then
  /// compares R2 with the count the entry named too
  /// (``JITContext/trustedCount``).
  private(set) var trustsBatch = false

  /// Packet offsets past this size are not tracked (the kernel's
  /// MAX_PACKET_OFF is 0xffff).
  static let limit: Int64 = 0xffff
  /// The widest scalar a join keeps (so that a loop's counter reaches a
  /// fixed point in few passes); wider ones are forgotten.
  static let scalarWidth: Int64 = 0xff

  init(slots: UnsafeMutablePointer<Slot>, count: Int, records: RecordCursors? = nil) {
    var entry = State()
    entry.registers[1] = .context
    entry.trusted = [1]
    let keeping = Self.calleesKeepingThePacket(slots: slots, count: count)
    // Subprogram entries are reached from their call sites only.
    before = SlotFlow.solve(count: count, entries: [(slot: 0, state: entry)], meet: { $0.meet($1) })
    {
      index, state in
      var state = state
      var successors: [(slot: Int, state: State)] = []
      func reach(_ target: Int, _ state: State) { successors.append((target, state)) }
      let slot = slots[index]
      let next = index + (slot.operation == .loadImmediate64 ? 2 : 1)
      switch slot.operation.family {
      case .jump:
        if let proven = Self.proof(slot, state),
          !state.covers(end: proven.site.end, variable: proven.variable)
        {
          // The guard's check holds on both edges.
          state.recordGuard(end: proven.site.end, variable: proven.variable)
        }
        var (taken, fallThrough) = (state, state)
        if let proven = Self.proof(slot, state) {
          func raise(_ state: inout State) {
            if let variable = proven.variable {
              state.variableRanges[variable] = max(
                state.variableRanges[variable] ?? 0, proven.range)
            } else {
              state.range = max(state.range, proven.range)
            }
          }
          if proven.taken { raise(&taken) } else { raise(&fallThrough) }
        }
        reach(Int(slot.offset), taken)
        if slot.operation != .ja { reach(next, fallThrough) }
      case .call:
        guard slot.operation != .exit else { break }
        let callee = Int(slot.offset)
        if slot.operation == .callLocal { reach(callee, state.entry(callee)) }
        // R6 - R9 come back as they were (the interpreter restores them);
        // their packet pointers stand where the callee hands nothing to
        // Swift, which may move the packet or change the page table (the
        // verifier keeps them unless the callee changes packet data).
        if slot.operation != .callLocal || !keeping.contains(callee) { state.forgetPacket() }
        if !Self.leavesTheStack(slot) { state.spilledContext = [] }
        for register in 0...5 { state.registers[register] = nil }
        state.keepRecordSources(acrossCallAt: index, records)
        state.trimEnds()
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
        state.trimEnds()
        reach(next, state)
      default:
        Self.apply(slot, at: index, to: &state, records: records)
        state.trimEnds()
        reach(next, state)
      }
      return successors
    }
    trustedLoads = Self.trustedLoads(slots: slots, count: count, before: before)
    for index in 0..<count where slots[index].operation.family == .jump {
      if let state = before[index], let proven = Self.proof(slots[index], state) {
        if state.covers(end: proven.site.end, variable: proven.variable) {
          coveredSites[index] = proven.site
        } else {
          proofSites[index] = proven.site
          if state.trusts(end: proven.site.end) {
            trustedSites[index] = proven.site
            if state.trustedData != .entry { trustsBatch = true }
          } else {
            guardSites[index] = proven.site
          }
        }
      }
    }
  }

  /// Whether `slot` calls a helper that writes no memory through its
  /// arguments, so that stack slots keep what they held (bpf-to-bpf
  /// calls, tail calls, `callx` and every other helper may write them).
  static func leavesTheStack(_ slot: Slot) -> Bool {
    guard slot.operation == .callHelper else { return false }
    let helpers: [HelperFunction] = [
      .mapLookupElement, .mapUpdateElement, .mapDeleteElement, .ktimeGetNanoseconds,
      .getPseudoRandomU32, .getSMPProcessorID, .redirect, .checksumDiff, .xdpAdjustHead,
      .redirectMap, .xdpAdjustMeta, .xdpAdjustTail, .commitRedirect,
    ]
    return helpers.contains { Int64($0.rawValue) == slot.immediate }
  }

  /// The subprogram entries whose code, and the code of every subprogram
  /// it calls, hands nothing to Swift: no helper call, tail call,
  /// `callx`, atomic or legacy packet load (the verifier's
  /// `changes_pkt_data`, wider: a helper may change the page table too).
  static func calleesKeepingThePacket(
    slots: UnsafeMutablePointer<Slot>, count: Int
  ) -> Set<Int> {
    let entries = Set(
      (0..<count).filter { slots[$0].operation == .callLocal }.map { Int(slots[$0].offset) }
        .filter { $0 >= 0 && $0 < count })
    var callees: [Int: Set<Int>] = [:]
    var keeping: Set<Int> = []
    for entry in entries {
      var calls: Set<Int> = []
      var keeps = true
      for index in LocalCalls.code(from: entry, slots: slots, count: count) {
        let slot = slots[index]
        switch slot.operation.family {
        case .call where slot.operation == .callLocal: calls.insert(Int(slot.offset))
        case .call where slot.operation == .exit: break
        case .call, .atomic, .packetLoad: keeps = false
        default: break
        }
      }
      callees[entry] = calls
      if keeps { keeping.insert(entry) }
    }
    // A callee that calls one that does not keep the packet does not.
    while let entry = keeping.first(where: { !callees[$0, default: []].isSubset(of: keeping) }) {
      keeping.remove(entry)
    }
    return keeping
  }

  /// What `register` holds before slot `index`.
  func value(of register: UInt8, at index: Int) -> Value? {
    guard register < 10, index < before.count else { return nil }
    return before[index]?.registers[Int(register)] ?? nil
  }

  /// Whether `size` bytes at `register` + `offset` lie in the proven range
  /// before slot `index`.
  func proves(_ register: UInt8, _ offset: Int32, size: Int, at index: Int) -> Bool {
    guard let state = before[index] else { return false }
    let base: Int32
    let range: Int32
    switch value(of: register, at: index) {
    case .packet(let offset):
      (base, range) = (offset, state.range)
    case .variablePacket(let variable, let offset):
      (base, range) = (offset, state.variableRanges[variable] ?? 0)
    default:
      return false
    }
    let start = Int64(base) + Int64(offset)
    return start >= 0 && start + Int64(size) <= Int64(range)
  }

  /// The range a compare proves, and on which edge.
  /// The range a compare proves, on which edge, and for which variable
  /// part (nil: bytes from `data` itself).
  private static func proof(_ slot: Slot, _ state: State)
    -> (range: Int32, taken: Bool, variable: Int?, site: Site)?
  {
    guard slot.dst < 10, slot.src < 10 else { return nil }
    let (dst, src) = (state.registers[Int(slot.dst)], state.registers[Int(slot.src)])
    let pointerFirst: Bool
    let pointer: Value?
    if src == .packetEnd {
      (pointerFirst, pointer) = (true, dst)
    } else if dst == .packetEnd {
      (pointerFirst, pointer) = (false, src)
    } else {
      return nil
    }
    let n: Int32
    let variable: Int?
    switch pointer {
    case .packet(let offset): (n, variable) = (offset, nil)
    case .variablePacket(let part, let offset): (n, variable) = (offset, part)
    default: return nil
    }
    guard n > 0 else { return nil }
    let site = Site(
      register: pointerFirst ? slot.dst : slot.src, bytes: n, variable: variable != nil,
      end: pointerFirst ? slot.src : slot.dst)
    // The edge on which pointer <= data_end (or <) holds.
    switch (slot.operation, pointerFirst) {
    case (.jgtX, true), (.jgeX, true): return (n, false, variable, site)  // if p > end (p >= end) goto
    case (.jltX, true), (.jleX, true): return (n, true, variable, site)  // if p < end (p <= end) goto
    case (.jgtX, false), (.jgeX, false): return (n, true, variable, site)  // if end > p (end >= p) goto
    case (.jltX, false), (.jleX, false): return (n, false, variable, site)  // if end < p (end <= p) goto
    default: return nil
    }
  }

  static func applyValues(_ slot: Slot, at index: Int, to state: inout State) {
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
      if state.ends.contains(slot.src) {
        state.ends.insert(slot.dst)
      } else {
        state.ends.remove(slot.dst)
      }
    case .mov32X:
      // A scalar within 0...limit keeps its value in 32 bits.
      let source = slot.src < 10 ? state.registers[Int(slot.src)] : nil
      if case .scalar = source { state.registers[dst] = source } else { state.registers[dst] = nil }
    case .mov64K, .mov32K:
      // mov32 zero-extends: a negative immediate is no small number.
      state.registers[dst] =
        (0...limit).contains(slot.immediate)
        ? .scalar(low: slot.immediate, high: slot.immediate) : nil
    case .add64K, .sub64K:
      let step = slot.operation == .add64K ? slot.immediate : -slot.immediate
      switch state.registers[dst] {
      case .packet(let offset):
        let moved = Int64(offset) + step
        state.registers[dst] = abs(moved) <= limit ? .packet(Int32(moved)) : nil
      case .variablePacket(let variable, let offset):
        let moved = Int64(offset) + step
        state.registers[dst] =
          abs(moved) <= limit ? .variablePacket(variable: variable, offset: Int32(moved)) : nil
      case .scalar(let low, let high):
        let bounds = (low + step, high + step)
        state.registers[dst] =
          bounds.0 >= 0 && bounds.1 <= limit ? .scalar(low: bounds.0, high: bounds.1) : nil
      default:
        state.registers[dst] = nil
      }
    case .add64X:
      let source = slot.src < 10 ? state.registers[Int(slot.src)] : nil
      let pointer = state.registers[dst]
      state.forgetVariable(index)
      if case .packet(let offset) = pointer, case .scalar = source {
        state.registers[dst] = .variablePacket(variable: index, offset: offset)
      } else {
        state.registers[dst] = nil
      }
    case .loadWord:
      let layout = XDPContextLayout.engine
      let fromContext = slot.src < 10 && state.registers[Int(slot.src)] == .context
      if fromContext && slot.offset == Int32(layout.data) { state.forgetPointers() }
      switch slot.offset {
      case Int32(layout.data) where fromContext: state.registers[dst] = .packet(0)
      case Int32(layout.dataEnd) where fromContext:
        // A new data_end: the guards' facts were about the old one.
        state.registers[dst] = .packetEnd
        state.ends = [slot.dst]
        state.trustedEnd = nil
        state.guarded = false
        state.guardedVariables = []
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
