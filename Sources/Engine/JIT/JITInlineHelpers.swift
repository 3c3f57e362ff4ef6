import BPF

/// A map as the JIT's inline `map_lookup_elem` reads it, 64 bytes per
/// map in a table the context block points to (``JITContext/mapTable``),
/// indexed by the low half of the map's handle.
struct MapDescriptor {
  /// ``inlineArray`` when a lookup is address arithmetic; anything else
  /// goes through the engine's helper.
  var kind: UInt64
  /// `max_entries`: a key at or above it finds nothing.
  var entries: UInt64
  /// Bytes from one key's values to the next (every processor's values).
  var entryBytes: UInt64
  /// The address of key 0's value for the machine's processor.
  var base: UInt64
  /// Keyed maps: the address of the ``MapKeyTable``'s header.
  var table: UInt64 = 0
  /// Maps `redirect_map` takes: the ``RedirectWords/Kind`` a hit leaves.
  var redirectKind: UInt64 = 0
  /// Maps `redirect_map` takes: the flags it accepts.
  var redirectFlags: UInt64 = 0
  /// DEVMAP, CPUMAP, XSKMAP: the host address of their ``RedirectSlots``.
  var redirects: UInt64 = 0

  /// An ARRAY or PERCPU_ARRAY (values at fixed addresses, also when they
  /// are the kernel's mmapped pages).
  static let inlineArray: UInt64 = 1
  /// A PROG_ARRAY: `base` is its ``ProgramSlots`` table of code words.
  static let programTable: UInt64 = 0x10
  static let size: Int32 = 64

  init(_ map: BPFMap, processor: Int) {
    if map.kind == .programArray, let table = map.programs.table {
      self.init(
        kind: Self.programTable, entries: UInt64(map.programs.tableCount), entryBytes: 8,
        base: UInt64(UInt(bitPattern: table)))
      return
    }
    guard map.kind == .array, map.values != nil else {
      self.init(keyed: map, processor: processor)
      return
    }
    self.init(
      kind: Self.inlineArray, entries: UInt64(map.definition.maxEntries),
      entryBytes: UInt64(map.stride * map.processors),
      base: map.valueAddress(slot: 0, processor: processor))
  }

  init(kind: UInt64, entries: UInt64, entryBytes: UInt64, base: UInt64) {
    (self.kind, self.entries, self.entryBytes, self.base) = (kind, entries, entryBytes, base)
  }
}

/// Helpers the JIT emits as machine code instead of a call into Swift,
/// each computing what ``Machine/callHelper(_:index:executed:)`` does for
/// the same registers (the agreement tests run both engines): the batch
/// epilogue's redirect commit, `redirect`, `map_lookup_elem` on
/// arrays and keyed maps, `redirect_map`, and the packet helpers
/// (``emitPacketHelper(_:_:slow:done:)``). Any argument the fast path does not cover (a handle that is
/// not an array map, a record outside the batch being run) takes the
/// call into Swift, which gives the engine's answer or error as before.
extension JITCompiler {
  /// What ``emitInlineHelper(_:_:slow:done:)`` emitted.
  enum InlineHelper {
    /// Nothing: the helper is called.
    case none
    /// The whole helper; it ends by jumping to `done`.
    case complete
    /// A fast path that jumps to `done`, or to `slow` (where the call
    /// must follow) for the arguments it does not cover.
    case withFallback
  }

  mutating func emitInlineHelper(
    _ id: Int32, _ index: Int, slow: CodeLabel, done: CodeLabel
  ) -> InlineHelper {
    switch id {
    case HelperFunction.commitRedirect.rawValue:
      emitRedirectCommit(slow: slow, done: done)
      return .withFallback
    case HelperFunction.redirect.rawValue:
      emitRedirect(done: done)
      return .complete
    case HelperFunction.mapLookupElement.rawValue:
      let keyed = a.makeLabel()
      emitArrayLookup(index, slow: keyed, done: done)
      a.bind(keyed)
      emitKeyedLookup(slow: slow, done: done)
      return .withFallback
    case HelperFunction.redirectMap.rawValue:
      emitRedirectMap(index, slow: slow, done: done)
      return .withFallback
    case HelperFunction.xdpLoadBytes.rawValue, HelperFunction.xdpStoreBytes.rawValue,
      HelperFunction.checksumDiff.rawValue, HelperFunction.xdpAdjustHead.rawValue,
      HelperFunction.xdpAdjustMeta.rawValue, HelperFunction.xdpAdjustTail.rawValue:
      emitPacketHelper(HelperFunction(rawValue: id), index, slow: slow, done: done)
      return .withFallback
    default:
      return .none
    }
  }

  /// `xdpbatch_commit_redirect(record)`: copies the pending redirect into
  /// the record's slot of the batch being run and its value into the
  /// record's redirect field, clears the pending redirect, R0 = 0.
  private mutating func emitRedirectCommit(slow: CodeLabel, done: CodeLabel) {
    let r = JITRegisters.self
    let record = r.bpf(1)
    let pending = JITContext.pendingRedirect
    emitBatchSlot(of: record, fail: slow)
    a.shift(digit: 4, r.scratch, by: 4, wide: true)
    a.add(r.scratch, memory: r.context, JITContext.batchRedirects)
    for half: Int32 in [0, 8] {
      a.load(r.address, r.context, pending + half)
      a.store(r.address, r.scratch, half)
    }
    // The record's redirect field, in the runner's region (mapped for the
    // machine's life).
    a.load(r.address, r.context, JITContext.arena)
    a.arithmetic(0x01, r.address, record, wide: true)
    a.memoryForm(
      [0x8b], wide: false, reg: r.scratch.number, base: r.context,
      displacement: pending + RedirectWords.valueOffset)
    a.memoryForm(
      [0x89], wide: false, reg: r.scratch.number, base: r.address,
      displacement: Int32(XDPContextLayout.engineRedirectSlot))
    a.store(immediate: 0, r.context, pending)
    a.store(immediate: 0, r.context, pending + 8)
    a.move(.rax, immediate: 0)
    a.jump(to: done)
  }

  /// `redirect(ifindex, flags)`: flags other than 0 return 0 and leave
  /// the pending redirect; else it becomes the interface, R0 = REDIRECT.
  private mutating func emitRedirect(done: CodeLabel) {
    let r = JITRegisters.self
    let pending = JITContext.pendingRedirect
    a.move(.rax, immediate: 0)
    a.test(r.bpf(2), r.bpf(2), wide: true)
    a.jump(.notEqual, to: done)
    // kind = interface, map = 0 (one 8-byte store), key = 0, value = R1.
    a.store(immediate: Int32(RedirectWords.Kind.interface.rawValue), r.context, pending)
    a.store(immediate: 0, r.context, pending + 8)
    a.memoryForm(
      [0x89], wide: false, reg: r.bpf(1).number, base: r.context,
      displacement: pending + RedirectWords.valueOffset)
    a.move(.rax, immediate: Helpers.redirectVerdict)
    a.jump(to: done)
  }

  /// `map_lookup_elem(map, key)` on an array: the value's address, or 0
  /// past `max_entries`. The key is read with the checks of any load (a
  /// bad key pointer is the memory fault the helper reports).
  private mutating func emitArrayLookup(_ index: Int, slow: CodeLabel, done: CodeLabel) {
    let r = JITRegisters.self
    let handle = r.bpf(1)
    // Where R1 is one array's handle on every path (``MapValuePointers``),
    // whose descriptor the compiler read, the code checks no handle, table
    // or kind.
    let knownArray = mapValues.handle(in: 1, at: index).map(mapValues.arrays.contains) ?? false
    if !knownArray {
      mapDescriptor(of: handle, slow: slow)
      a.compare(memory: r.scratch, 0, immediate: Int32(MapDescriptor.inlineArray))
      a.jump(.notEqual, to: slow)
    }
    // The key: 4 bytes at R2, checked (this clobbers R10 and R11).
    let displacement = checkedAddress(2, 0, size: 4, write: false, index)
    // The map's index is still in R1's low half.
    a.memoryForm(
      [0x8b], wide: false, reg: X86Register.rax.number, base: r.address,
      displacement: displacement)
    descriptor(of: handle)
    let found = a.makeLabel()
    a.compare(.rax, memory: r.scratch, 8)
    a.jump(.below, to: found)
    a.move(.rax, immediate: 0)
    a.jump(to: done)
    a.bind(found)
    a.memoryForm(
      [0x0f, 0xaf], wide: true, reg: X86Register.rax.number, base: r.scratch,
      displacement: 16)
    a.add(.rax, memory: r.scratch, 24)
    a.jump(to: done)
  }

  /// Leaves in R10 the descriptor of the map `handle` names, or jumps to
  /// `slow` when it names none: a handle is 0xffff_0000 in the high half
  /// and a table index below.
  mutating func mapDescriptor(of handle: X86Register, slow: CodeLabel) {
    let r = JITRegisters.self
    a.move(r.scratch, handle)
    a.shift(digit: 5, r.scratch, by: 32, wide: true)
    a.arithmetic(digit: 7, r.scratch, immediate: Int32(bitPattern: 0xffff_0000), wide: false)
    a.jump(.notEqual, to: slow)
    descriptor(of: handle, slow: slow)
  }

  /// Leaves in R10 the descriptor of the map whose table index is the
  /// low half of `handle`; with `slow`, an index past the table jumps there.
  mutating func descriptor(of handle: X86Register, slow: CodeLabel? = nil) {
    let r = JITRegisters.self
    a.move(r.scratch, handle, wide: false)
    if let slow {
      a.compare(r.scratch, memory: r.context, JITContext.mapCount)
      a.jump(.aboveOrEqual, to: slow)
    }
    a.shift(
      digit: 4, r.scratch, by: UInt8(MapDescriptor.size.trailingZeroBitCount), wide: true)
    a.add(r.scratch, memory: r.context, JITContext.mapTable)
  }
}
