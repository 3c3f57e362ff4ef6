import BPF

extension MapDescriptor {
  /// A map found by key (``MapKeyTable``): HASH, PERCPU_HASH,
  /// DEVMAP_HASH, DEVMAP, CPUMAP, XSKMAP.
  static let inlineKeyed: UInt64 = 2
  /// An LRU_HASH or LRU_PERCPU_HASH: a hit also becomes the most recent.
  static let inlineKeyedLRU: UInt64 = 3
  /// Keys the inline probe reads: whole 32-bit words, less than
  /// ``Machine/helperWorkPerInstruction`` bytes (so no work is charged).
  static func probes(keySize: Int) -> Bool {
    keySize % 4 == 0 && keySize < Machine.helperWorkPerInstruction
  }

  /// The descriptor of a map that is not an array: keyed maps whose keys
  /// the probe reads, with what `redirect_map` needs of the ones it takes;
  /// kind 0 (the call into Swift) for the rest.
  init(keyed map: BPFMap, processor: Int) {
    self.init(kind: 0, entries: 0, entryBytes: 0, base: 0)
    guard let keys = map.keyTable, map.values != nil,
      Self.probes(keySize: Int(map.definition.keySize))
    else { return }
    kind = map.isLRU ? Self.inlineKeyedLRU : Self.inlineKeyed
    entries = UInt64(map.definition.maxEntries)
    entryBytes = UInt64(map.stride * map.processors)
    base = map.valueAddress(slot: 0, processor: processor)
    table = UInt64(UInt(bitPattern: keys.header))
    redirects = map.redirects?.address ?? 0
    let actions: UInt64 = 3
    let broadcast: UInt64 = 1 << 3
    let excludeIngress: UInt64 = 1 << 4
    switch map.definition.type {
    case .devmap, .devmapHash:
      (redirectKind, redirectFlags) = (
        UInt64(RedirectWords.Kind.device.rawValue), actions | broadcast | excludeIngress
      )
    case .cpumap:
      (redirectKind, redirectFlags) = (UInt64(RedirectWords.Kind.processor.rawValue), actions)
    case .xskmap:
      (redirectKind, redirectFlags) = (UInt64(RedirectWords.Kind.socket.rawValue), actions)
    default: break
    }
  }
}

/// `map_lookup_elem` on keyed maps and `redirect_map`, as machine code:
/// the key is hashed in place and probed in the map's ``MapKeyTable``
/// (the same table the engine's Swift code keeps), so a lookup makes no
/// call into Swift and allocates nothing. What the code does not cover
/// (a handle that is no such map, a key the probe does not read, a key
/// pointer that faults, `BPF_F_BROADCAST`) takes the call into Swift,
/// which gives the engine's answer or error as before.
///
/// BPF R1–R5 keep their values across the inline code (the call into
/// Swift keeps them too): the probe works in RDI, RSI, RDX, RCX and R8
/// saved on the native stack, with RAX, R10 and R11.
extension JITCompiler {
  private static let saved: [X86Register] = [.rdi, .rsi, .rdx, .rcx, .r8]

  private mutating func saveArguments() { for reg in Self.saved { a.push(reg) } }
  private mutating func restoreArguments() { for reg in Self.saved.reversed() { a.pop(reg) } }

  /// `map_lookup_elem(map, key)` on a keyed map: the value's address for
  /// the machine's processor, or 0. On an LRU map a hit becomes the most
  /// recently used entry, as the engine's lookup does.
  mutating func emitKeyedLookup(slow: CodeLabel, done: CodeLabel) {
    let r = JITRegisters.self
    mapDescriptor(of: r.bpf(1), slow: slow)
    let keyed = a.makeLabel()
    a.compare(memory: r.scratch, 0, immediate: Int32(MapDescriptor.inlineKeyed))
    a.jump(.equal, to: keyed)
    a.compare(memory: r.scratch, 0, immediate: Int32(MapDescriptor.inlineKeyedLRU))
    a.jump(.notEqual, to: slow)
    a.bind(keyed)
    let (fault, hit, miss) = (a.makeLabel(), a.makeLabel(), a.makeLabel())
    saveArguments()
    a.move(.rdi, r.scratch)
    a.load(.r8, .rdi, 32)
    // The key: R2 .. R2 + key bytes must be readable (as any load checks
    // it); a fault is left to the engine's helper, which names it.
    a.move(.rdx, .rsi)
    a.shift(digit: 5, .rdx, by: 12, wide: true)
    a.compare(.rdx, memory: r.context, JITContext.pages)
    a.jump(.aboveOrEqual, to: fault)
    a.load(.rcx, r.context, JITContext.limits)
    a.memoryForm(
      [0x8b], wide: false, reg: X86Register.rcx.number, base: .rcx, index: .rdx,
      scale: 4, displacement: 0)
    a.load(.rdx, .r8, MapKeyTable.Field.keyBytes)
    a.arithmetic(0x01, .rdx, .rsi, wide: true)
    a.arithmetic(0x39, .rdx, .rcx, wide: true)
    a.jump(.above, to: fault)
    a.add(.rsi, memory: r.context, JITContext.arena)
    emitKeyProbe(hit: hit, miss: miss)
    a.bind(hit)
    // RAX = the slot.
    let value = a.makeLabel()
    a.compare(memory: .rdi, 0, immediate: Int32(MapDescriptor.inlineKeyedLRU))
    a.jump(.notEqual, to: value)
    emitTouch()
    a.bind(value)
    a.memoryForm(
      [0x0f, 0xaf], wide: true, reg: X86Register.rax.number, base: .rdi,
      displacement: 16)
    a.add(.rax, memory: .rdi, 24)
    restoreArguments()
    a.jump(to: done)
    a.bind(miss)
    a.move(.rax, immediate: 0)
    restoreArguments()
    a.jump(to: done)
    a.bind(fault)
    restoreArguments()
    a.jump(to: slow)
  }

  /// Finds the key at host address RSI in the table whose header is R8:
  /// jumps to `hit` with the slot in RAX, or to `miss`. Clobbers RAX, RCX,
  /// RDX, R10 and R11. The hash is ``MapKeyTable/hash(_:)``.
  private mutating func emitKeyProbe(hit: CodeLabel, miss: CodeLabel) {
    typealias Field = MapKeyTable.Field
    let (hash, position) = (X86Register.r11, X86Register.r11)
    // Hash: per 32-bit word, h = (h ^ w) * M; h ^= h >> 29.
    a.load(hash, .r8, Field.seed)
    a.load(.rcx, .r8, Field.keyBytes)
    a.move(.rdx, .rsi)
    let word = a.makeLabel()
    a.bind(word)
    a.memoryForm([0x8b], wide: false, reg: X86Register.rax.number, base: .rdx, displacement: 0)
    a.arithmetic(0x31, hash, .rax, wide: true)
    a.memoryForm(
      [0x0f, 0xaf], wide: true, reg: hash.number, base: .r8,
      displacement: Field.multiplier)
    a.move(.rax, hash)
    a.shift(digit: 5, .rax, by: 29, wide: true)
    a.arithmetic(0x31, hash, .rax, wide: true)
    a.arithmetic(digit: 0, .rdx, immediate: 4, wide: true)
    a.arithmetic(digit: 5, .rcx, immediate: 4, wide: true)
    a.jump(.notEqual, to: word)
    // RCX = the tag; R11 walks the buckets from the hash on.
    a.move(.rcx, hash)
    a.shift(digit: 5, .rcx, by: 33, wide: true)
    let (probe, next, compare, matched) = (
      a.makeLabel(), a.makeLabel(), a.makeLabel(), a.makeLabel()
    )
    a.bind(probe)
    bucket(at: position)
    a.test(.rax, .rax, wide: true)
    a.jump(.equal, to: miss)
    a.move(.rdx, .rax)
    a.shift(digit: 5, .rdx, by: 32, wide: true)
    a.arithmetic(0x39, .rdx, .rcx, wide: true)
    a.jump(.notEqual, to: next)
    // The stored key: keys + (slot) * stride, compared word by word.
    a.move(.rdx, .rax, wide: false)
    a.arithmetic(digit: 5, .rdx, immediate: 1, wide: true)
    a.memoryForm(
      [0x0f, 0xaf], wide: true, reg: X86Register.rdx.number, base: .r8,
      displacement: Field.keyStride)
    a.add(.rdx, memory: .r8, Field.keys)
    a.move(.r10, immediate: 0)
    a.bind(compare)
    a.memoryForm(
      [0x8b], wide: false, reg: X86Register.rax.number, base: .rsi, index: .r10,
      scale: 1, displacement: 0)
    a.memoryForm(
      [0x3b], wide: false, reg: X86Register.rax.number, base: .rdx, index: .r10,
      scale: 1, displacement: 0)
    a.jump(.notEqual, to: next)
    a.arithmetic(digit: 0, .r10, immediate: 4, wide: true)
    a.compare(.r10, memory: .r8, Field.keyBytes)
    a.jump(.below, to: compare)
    a.jump(to: matched)
    a.bind(next)
    a.arithmetic(digit: 0, position, immediate: 1, wide: true)
    a.jump(to: probe)
    a.bind(matched)
    bucket(at: position)
    a.arithmetic(digit: 5, .rax, immediate: 1, wide: false)
    a.jump(to: hit)
  }

  /// RAX = the bucket `position` selects (RDX = its index).
  private mutating func bucket(at position: X86Register) {
    a.move(.rdx, position)
    a.memoryForm(
      [0x23], wide: true, reg: X86Register.rdx.number, base: .r8,
      displacement: MapKeyTable.Field.mask)
    a.load(.rax, .r8, MapKeyTable.Field.buckets)
    a.memoryForm(
      [0x8b], wide: true, reg: X86Register.rax.number, base: .rax, index: .rdx,
      scale: 8, displacement: 0)
  }

  /// Makes slot RAX the most recently used of the LRU list in the table
  /// at R8 (``MapKeyTable/touch(_:listed:)`` for a listed slot). Keeps
  /// RAX; clobbers RCX, RDX, R10, R11.
  private mutating func emitTouch() {
    typealias Field = MapKeyTable.Field
    let (links, following) = (X86Register.r10, X86Register.r11)
    let (done, last, linked) = (a.makeLabel(), a.makeLabel(), a.makeLabel())
    a.loadAddress(.rdx, .rax, 1)
    a.compare(.rdx, memory: .r8, Field.head)
    a.jump(.equal, to: done)
    a.load(links, .r8, Field.links)
    // Unlink: previous (not none: the slot is not the head) gets the next.
    a.memoryForm(
      [0x8b], wide: true, reg: X86Register.rcx.number, base: links, index: .rax,
      scale: 8, displacement: 0)
    a.move(following, .rcx)
    a.shift(digit: 5, following, by: 32, wide: true)
    a.move(.rcx, .rcx, wide: false)
    a.memoryForm(
      [0x89], wide: false, reg: following.number, base: links, index: .rcx,
      scale: 8, displacement: -4)
    a.test(following, following, wide: true)
    a.jump(.equal, to: last)
    a.memoryForm(
      [0x89], wide: false, reg: X86Register.rcx.number, base: links, index: following,
      scale: 8, displacement: -8)
    a.jump(to: linked)
    a.bind(last)
    a.store(.rcx, .r8, Field.tail)
    a.bind(linked)
    // Push to the front: no previous, the old head next; it points back.
    a.load(.rcx, .r8, Field.head)
    a.move(following, .rcx)
    a.shift(digit: 4, following, by: 32, wide: true)
    a.memoryForm(
      [0x89], wide: true, reg: following.number, base: links, index: .rax,
      scale: 8, displacement: 0)
    a.memoryForm(
      [0x89], wide: false, reg: X86Register.rdx.number, base: links, index: .rcx,
      scale: 8, displacement: -8)
    a.store(.rdx, .r8, Field.head)
    a.bind(done)
  }

  /// `redirect_map(map, key, flags)` as ``Machine`` does it
  /// (`__bpf_xdp_redirect_map`): flags outside the map's set return 0,
  /// a miss clears the pending redirect and returns the flags' low two
  /// bits, a hit sets it and returns XDP_REDIRECT. `BPF_F_BROADCAST`
  /// goes to Swift. DEVMAP, CPUMAP and XSKMAP are read as the kernel
  /// reads them, a bound check and one load of the key's
  /// ``RedirectSlots`` words; where R1 is one such map's handle on every
  /// path (``MapValuePointers``), the flags it takes are known when
  /// compiling and the code checks no handle, kind or flags word. A
  /// DEVMAP_HASH entry is found by the key probe, its interface read from
  /// its value.
  mutating func emitRedirectMap(_ index: Int, slow: CodeLabel, done: CodeLabel) {
    let r = JITRegisters.self
    let broadcast: Int32 = 1 << 3
    if let handle = mapValues.handle(in: 1, at: index),
      let accepted = mapValues.redirectFlags[handle]
    {
      descriptor(of: r.bpf(1))
      a.move(.rax, immediate: 0)
      a.test(r.bpf(3), immediate: Int32(truncatingIfNeeded: ~accepted), wide: true)
      a.jump(.notEqual, to: done)
      if accepted & UInt64(broadcast) != 0 {
        a.test(r.bpf(3), immediate: broadcast, wide: true)
        a.jump(.notEqual, to: slow)
      }
      emitIndexedRedirect(done: done)
      return
    }
    mapDescriptor(of: r.bpf(1), slow: slow)
    a.compare(memory: r.scratch, 0, immediate: Int32(MapDescriptor.inlineKeyed))
    a.jump(.notEqual, to: slow)
    a.compare(memory: r.scratch, 40, immediate: 0)
    a.jump(.equal, to: slow)
    // Flags the map does not take: R0 = 0, nothing else changes.
    a.load(r.address, r.scratch, 48)
    a.unary(digit: 2, r.address, wide: true)
    a.move(.rax, immediate: 0)
    a.test(r.address, r.bpf(3), wide: true)
    a.jump(.notEqual, to: done)
    a.test(r.bpf(3), immediate: broadcast, wide: true)
    a.jump(.notEqual, to: slow)
    let keyed = a.makeLabel()
    a.compare(memory: r.scratch, 56, immediate: 0)
    a.jump(.equal, to: keyed)
    emitIndexedRedirect(done: done)
    a.bind(keyed)
    emitProbedRedirect(done: done)
  }

  /// The redirect through the ``RedirectSlots`` of the map whose
  /// descriptor is in R10: key (R2's low half) past `max_entries` or an
  /// empty slot misses, else the slot's words become the pending redirect.
  /// Keeps R1-R5; clobbers R11.
  private mutating func emitIndexedRedirect(done: CodeLabel) {
    let r = JITRegisters.self
    let pending = JITContext.pendingRedirect
    let miss = a.makeLabel()
    a.move(.rax, r.bpf(2), wide: false)
    a.compare(.rax, memory: r.scratch, 8)
    a.jump(.aboveOrEqual, to: miss)
    a.shift(digit: 4, .rax, by: 4, wide: true)
    a.add(.rax, memory: r.scratch, 56)
    a.load(r.address, .rax, 0)
    a.test(r.address, r.address, wide: false)
    a.jump(.equal, to: miss)
    a.store(r.address, r.context, pending)
    a.load(r.address, .rax, 8)
    a.store(r.address, r.context, pending + 8)
    a.move(.rax, immediate: Helpers.redirectVerdict)
    a.jump(to: done)
    a.bind(miss)
    a.store(immediate: 0, r.context, pending)
    a.store(immediate: 0, r.context, pending + 8)
    a.move(.rax, r.bpf(3))
    a.arithmetic(digit: 4, .rax, immediate: 3, wide: true)
    a.jump(to: done)
  }

  /// The redirect through a DEVMAP_HASH whose descriptor is in R10, by
  /// the key probe (``emitKeyProbe(hit:miss:)``).
  private mutating func emitProbedRedirect(done: CodeLabel) {
    let r = JITRegisters.self
    let pending = JITContext.pendingRedirect
    // The key, 4 bytes on the native stack, where the probe reads it.
    let (hit, miss, exit) = (a.makeLabel(), a.makeLabel(), a.makeLabel())
    saveArguments()
    a.push(.rsi)
    a.move(.rdi, r.scratch)
    a.load(.r8, .rdi, 32)
    // A DEVMAP_HASH with other keys than 4 bytes has no such key.
    a.compare(memory: .r8, MapKeyTable.Field.keyBytes, immediate: 4)
    a.jump(.notEqual, to: miss)
    a.move(.rsi, .rsp)
    emitKeyProbe(hit: hit, miss: miss)
    a.bind(hit)
    // Words: kind | map << 32, then key | value << 32, the value the
    // interface in the entry's value.
    a.load(.rdx, .rdi, 40)
    a.memoryForm(
      [0x0f, 0xaf], wide: true, reg: X86Register.rax.number, base: .rdi,
      displacement: 16)
    a.add(.rax, memory: .rdi, 24)
    a.add(.rax, memory: r.context, JITContext.arena)
    a.memoryForm([0x8b], wide: false, reg: X86Register.rcx.number, base: .rax, displacement: 0)
    a.memoryForm([0x8b], wide: false, reg: X86Register.rax.number, base: .rsp, displacement: 0)
    a.shift(digit: 4, .rcx, by: 32, wide: true)
    a.arithmetic(0x09, .rcx, .rax, wide: true)
    a.store(.rcx, r.context, pending + 8)
    a.load(.rax, .rsp, 40)  // R1, the handle: the map's index in its low half
    a.shift(digit: 4, .rax, by: 32, wide: true)
    a.arithmetic(0x09, .rax, .rdx, wide: true)
    a.store(.rax, r.context, pending)
    a.move(.rax, immediate: Helpers.redirectVerdict)
    a.jump(to: exit)
    a.bind(miss)
    a.store(immediate: 0, r.context, pending)
    a.store(immediate: 0, r.context, pending + 8)
    a.load(.rax, .rsp, 24)  // R3, the flags
    a.arithmetic(digit: 4, .rax, immediate: 3, wide: true)
    a.bind(exit)
    a.pop(.rsi)
    restoreArguments()
    a.jump(to: done)
  }
}
