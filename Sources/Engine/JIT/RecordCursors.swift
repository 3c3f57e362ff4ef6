import BPF

/// Where a batch form's record cursor is proven to point at one of the
/// records the caller passed, so that the JIT stores the verdict through it
/// without a check, as the kernel's verifier bounds the record pointer with
/// the batch's end (``BatchConvention/kernel(commitFunction:)``).
///
/// The facts are about the values R1 and R2 held at the code's entry (the
/// first record's address and the record count the runner gave), followed
/// through the slots (``SlotFlow``), never at a subprogram's entry:
///
/// - `end` = entry R1 + entry R2 × stride, made only as the rewriter's
///   prologue makes it (`r2 *= stride; r2 += r1`, or its `<<=`), and kept
///   by copies;
/// - at the first slot where one register holds entry R1 and another
///   `end` (``guardSites``: the prologue's `rB = r2` that keeps the end in
///   a loop register), the JIT's code checks once per run that
///   `[R1, end)` is not empty and lies in one region of the address space,
///   as the page table says, and continues in the fully checked copy of
///   the body when it does not (a count past the records' capacity, a
///   bogus R1). Past the guard entry R1 is a `record`: an address of the
///   form R1 + k × stride below `end`;
/// - `record + stride` (`r6 += 32`) is `stepped`: at most `end`; a 64-bit
///   unsigned compare of a `stepped` or `record` register with `end`
///   (`if r6 < r7 goto loop`, in any of its four forms) makes it a
///   `record` again on the edge where it is below `end`, and with it
///   every register known to hold the same value (its 64-bit copies, the
///   epilogue's `r1 = r6` before the compare: ``State/same``), as the
///   verifier's `find_equal_scalars` refines registers of one `id`;
/// - a backward jump on a 64-bit unsigned compare of a `stepped` or
///   `record` register with any other value (`if r9 < r2 goto loop`, `r2`
///   filled from the stack: the rewriter's bound where the program names
///   three of R6 - R9 and leaves it one loop register) makes the cursor
///   a `record` on the taken edge too (``endChecks``): there the JIT
///   compares it with the end the guard checked, kept in the context
///   block, and continues in the checked copy when it is not below;
/// - any other write to a register forgets its fact: calls and legacy
///   packet loads forget R0 - R5 (bpf-to-bpf calls keep R6 - R9, as the
///   JIT saves them), atomics R0 and their source (the engine's callback
///   writes no other register of the file it reloads them from).
///
/// An access of `size` bytes at `record + offset` with `0 <= offset` and
/// `offset + size <= stride` then lies in `[R1, end)`: the stride is a
/// power of two, so `end - R1` (the product modulo 2^64 that the guard
/// found positive and below 2^32) is a whole number of records, and a
/// `record` is at least one stride below `end`. Within one run the page
/// table only grows (a helper makes more of a map's values reachable); the
/// records' pages, checked by the guard, stay reachable until the run
/// returns. The rewriter's loop registers are ones the program never
/// names, so its cursor is the only `record` and its verdict store the
/// only proven access; a program that names all four of R6 - R9 keeps its
/// cursor on the stack, which nothing here follows, and stays checked.
struct RecordCursors {
  /// What a register holds, in terms of the entry's R1 and R2.
  enum Value: Equatable {
    /// Entry R1, before the guard.
    case first
    /// Entry R2.
    case count
    /// Entry R2 × stride.
    case scaledCount
    /// Entry R1 + entry R2 × stride.
    case end
    /// Entry R1 + k × stride, below `end` (past the guard).
    case record
    /// Entry R1 + k × stride, at most `end`.
    case stepped
  }

  /// The record stride (``XDPContextLayout/engine``).
  static let stride = Int64(XDPContextLayout.engine.stride)

  /// The registers that hold entry R1 and `end` at a guard site.
  struct Site: Equatable {
    var first: UInt8
    var end: UInt8
  }

  /// What R0 - R9 hold before a slot, and which hold the same value.
  struct State: Equatable {
    var values: [Value?] = Array(repeating: nil, count: 10)
    /// Per register, a bit per register known to hold the same 64-bit
    /// value (its own bit always): copies made by `mov64` and not written
    /// since; joins keep what both paths know.
    var same: [UInt16] = (0..<10).map { 1 << $0 }

    /// `register` written with `value` (nil: unknown), no longer equal to
    /// any other register.
    mutating func write(_ register: UInt8, _ value: Value?) {
      guard register < 10 else { return }
      let bit = UInt16(1) << register
      for n in 0..<10 { same[n] &= ~bit }
      same[Int(register)] = bit
      values[Int(register)] = value
    }

    /// `destination` = `source` (64-bit): the same value as it and its
    /// copies.
    mutating func copy(_ destination: UInt8, from source: UInt8) {
      guard destination < 10 else { return }
      guard source < 10 else { return write(destination, nil) }
      guard destination != source else { return }
      write(destination, values[Int(source)])
      let group = same[Int(source)] | (1 << destination)
      for n in 0..<10 where group & (1 << n) != 0 { same[n] = group }
    }

    /// `register`, and every register holding the same value, made a
    /// `record` (a compare found it below `end`).
    mutating func refine(_ register: UInt8) {
      for n in 0..<10 where same[Int(register)] & (1 << n) != 0 {
        if values[n] == .record || values[n] == .stepped { values[n] = .record }
      }
    }

    func meet(_ other: State) -> State {
      var result = State()
      for n in 0..<10 {
        result.values[n] = values[n] == other.values[n] ? values[n] : nil
        result.same[n] = same[n] & other.same[n]
      }
      return result
    }
  }

  /// Before each slot, what R0 - R9 hold (nil: no path reaches it).
  private let before: [[Value?]?]
  /// Before each slot, which registers hold the same value (``State/same``).
  private let equal: [[UInt16]?]
  /// Slots before which the JIT checks `[R1, end)` (``Site``).
  let guardSites: [Int: Site]
  /// Backward jumps, with the cursor register, whose taken edge holds
  /// the cursor a `record` only once the JIT's code found it below the
  /// end the guard checked (``JITContext/recordsEnd``): empty where no
  /// guard is emitted.
  let endChecks: [Int: UInt8]

  init(slots: UnsafeMutablePointer<Slot>, count: Int) {
    var entry = State()
    entry.values[1] = .first
    entry.values[2] = .count
    let entries =
      [(slot: 0, state: entry)]
      + (0..<count).filter { slots[$0].operation == .callLocal }.map {
        (slot: Int(slots[$0].offset), state: State())
      }
    let solved = SlotFlow.solve(count: count, entries: entries, meet: { $0.meet($1) }) {
      index, state in
      Self.successors(of: slots[index], at: index, state)
    }
    let states = solved.map { $0?.values }
    before = states
    equal = solved.map { $0?.same }
    var sites: [Int: Site] = [:]
    for (index, state) in states.enumerated() {
      if let state, let site = Self.site(state) { sites[index] = site }
    }
    // A guard only where some access goes through a record (a bound kept
    // on the stack makes `end` and then nothing uses it).
    let used = (0..<count).contains { index in
      let slot = slots[index]
      switch slot.operation.family {
      case .load: return Self.proves(states, slot.src, slot.offset, size: 1, at: index)
      case .store, .atomic: return Self.proves(states, slot.dst, slot.offset, size: 1, at: index)
      default: return false
      }
    }
    guardSites = used ? sites : [:]
    var checks: [Int: UInt8] = [:]
    for (index, state) in states.enumerated() {
      if used, let state, let cursor = Self.endCheck(slots[index], at: index, state) {
        checks[index] = cursor
      }
    }
    endChecks = checks
  }

  /// The cursor of a backward `jlt`/`jgt` (64-bit, registers) that
  /// compares a `stepped` or `record` register with a value not known to
  /// be `end`, jumping when the cursor is below it.
  private static func endCheck(_ slot: Slot, at index: Int, _ state: [Value?]) -> UInt8? {
    guard Int(slot.offset) <= index, slot.dst < 10, slot.src < 10 else { return nil }
    func cursor(_ register: UInt8) -> Bool {
      state[Int(register)] == .record || state[Int(register)] == .stepped
    }
    switch slot.operation {
    case .jltX where cursor(slot.dst) && state[Int(slot.src)] != .end: return slot.dst
    case .jgtX where cursor(slot.src) && state[Int(slot.dst)] != .end: return slot.src
    default: return nil
    }
  }

  /// Whether `register` holds one of the records the guard checked before
  /// slot `index` (in the copy where the guard ran): one of the batch
  /// entry R1 and R2 name (``PacketRanges`` trusts what is read through
  /// it where the entry named that batch, ``JITContext/trustedCount``).
  func holdsRecord(_ register: UInt8, at index: Int) -> Bool {
    !guardSites.isEmpty && Self.proves(before, register, 0, size: 1, at: index)
  }

  /// Another register than `register`, among the bits of `among`, that
  /// holds the same value before slot `index` on every path, if any: the
  /// lowest.
  func copy(of register: UInt8, at index: Int, among: UInt16 = 0x3ff) -> UInt8? {
    guard register < 10, index < equal.count, let same = equal[index]?[Int(register)] else {
      return nil
    }
    let others = same & among & ~(UInt16(1) << register)
    return others == 0 ? nil : UInt8(others.trailingZeroBitCount)
  }

  /// Whether `size` bytes at `register` + `offset` before slot `index`
  /// lie among the records the guard checked.
  func proves(_ register: UInt8, _ offset: Int32, size: Int, at index: Int) -> Bool {
    Self.proves(before, register, offset, size: size, at: index)
  }

  private static func proves(
    _ before: [[Value?]?], _ register: UInt8, _ offset: Int32, size: Int, at index: Int
  ) -> Bool {
    guard register < 10, index < before.count, before[index]?[Int(register)] == .record else {
      return false
    }
    return offset >= 0 && Int64(offset) + Int64(size) <= stride
  }

  /// The guard's registers, where one holds entry R1 and another `end`.
  private static func site(_ state: [Value?]) -> Site? {
    guard let first = state.firstIndex(of: .first), let end = state.firstIndex(of: .end) else {
      return nil
    }
    return Site(first: UInt8(first), end: UInt8(end))
  }

  private static func successors(of slot: Slot, at index: Int, _ state: State)
    -> [(slot: Int, state: State)]
  {
    // Read from the state before the slot, as ``endChecks`` is: the JIT
    // compares the cursor at exactly these jumps.
    let endCheck = Self.endCheck(slot, at: index, state.values)
    var state = state
    // Past a guard, entry R1 is a record (the guard ran in the copy that
    // uses these facts; the checked copy ignores them).
    if site(state.values) != nil {
      for register in 0..<10 where state.values[register] == .first {
        state.values[register] = .record
      }
    }
    let next = index + (slot.operation == .loadImmediate64 ? 2 : 1)
    func value(_ register: UInt8) -> Value? { register < 10 ? state.values[Int(register)] : nil }
    func set(_ register: UInt8, _ value: Value?) { state.write(register, value) }
    switch slot.operation.family {
    case .jump:
      guard slot.operation != .ja else { return [(Int(slot.offset), state)] }
      var taken = state
      var fallThrough = state
      // The 64-bit unsigned compares of a cursor with the end, on the
      // edge where the cursor is below it.
      let (dst, src) = (value(slot.dst), value(slot.src))
      func cursor(_ value: Value?) -> Bool { value == .record || value == .stepped }
      if let endCheck { taken.refine(endCheck) }
      switch slot.operation {
      case .jltX where cursor(dst) && src == .end: taken.refine(slot.dst)
      case .jgeX where cursor(dst) && src == .end: fallThrough.refine(slot.dst)
      case .jgtX where dst == .end && cursor(src): taken.refine(slot.src)
      case .jleX where dst == .end && cursor(src): fallThrough.refine(slot.src)
      default: break
      }
      return [(Int(slot.offset), taken), (next, fallThrough)]
    case .call:
      guard slot.operation != .exit else { return [] }
      for register: UInt8 in 0...5 { set(register, nil) }
    case .trap:
      return []
    case .atomic:
      set(0, nil)
      set(slot.src, nil)
    case .packetLoad:
      for register: UInt8 in 0...5 { set(register, nil) }
    case .store:
      break
    case .arithmetic, .byteOrder, .load, .loadImmediate64:
      let scale = Int64(Self.stride.trailingZeroBitCount)
      switch slot.operation {
      case .mov64X: state.copy(slot.dst, from: slot.src)
      case .mul64K where value(slot.dst) == .count && slot.immediate == Self.stride,
        .lsh64K where value(slot.dst) == .count && slot.immediate == scale:
        set(slot.dst, .scaledCount)
      case .add64X:
        let pair = [value(slot.dst), value(slot.src)]
        set(
          slot.dst, pair == [.scaledCount, .first] || pair == [.first, .scaledCount] ? .end : nil)
      case .add64K where value(slot.dst) == .record && slot.immediate == Self.stride:
        set(slot.dst, .stepped)
      default: set(slot.dst, nil)
      }
    }
    return [(next, state)]
  }
}

extension JITCompiler {
  /// At a ``RecordCursors/guardSites`` slot: continues in the fully checked
  /// copy of the body at this slot (through a ``JITCompiler/copyExit(_:)``) unless `[first, end)` is not empty and
  /// lies in one region of the address space (the region of `first`'s
  /// page ends at or past `end`, as the walk of a checked access of those
  /// bytes would find). `first` may be any 64-bit value, so its page is
  /// compared with the table's size first. Clobbers R10 and R11.
  mutating func emitRecordGuard(_ site: RecordCursors.Site, _ index: Int) {
    let r = JITRegisters.self
    let (first, end) = (r.bpf(site.first), r.bpf(site.end))
    let checked = copyExit(index)
    a.move(r.address, first)
    a.shift(digit: 5, r.address, by: 12, wide: true)
    a.arithmetic(digit: 7, r.address, immediate: Int32(AddressSpace.tableEntries), wide: true)
    a.jump(.aboveOrEqual, to: checked)
    a.arithmetic(0x39, first, end, wide: true)  // first against end: no records
    a.jump(.aboveOrEqual, to: checked)
    a.load(r.scratch, r.context, JITContext.limits)
    a.memoryForm(
      [0x8b], wide: false, reg: r.scratch.number, base: r.scratch, index: r.address, scale: 4,
      displacement: 0)
    a.arithmetic(0x39, r.scratch, end, wide: true)  // the region's end against end
    a.jump(.below, to: checked)
    if !records.endChecks.isEmpty { a.store(end, r.context, JITContext.recordsEnd) }
  }

  /// At a ``RecordCursors/endChecks`` back-edge, taken (the count exact,
  /// the budget checked): on to the loop's head in this copy only with
  /// `cursor` below the end the guard checked, else to the head in the
  /// checked copy.
  mutating func emitRecordsEndCheck(_ cursor: UInt8, target: Int) {
    let checked = edge(to: checkedLabels[target], lag: 0)
    a.compare(JITRegisters.bpf(cursor), memory: JITRegisters.context, JITContext.recordsEnd)
    a.jump(.aboveOrEqual, to: checked)
  }
}
