import BPF

/// One BPF map of a machine. Values live in the machine's address space, so
/// `map_lookup_elem` hands the program a pointer it can read and write; the
/// bookkeeping (which keys exist, LRU order) lives on the Swift side.
///
/// Storage follows use: array values (which programs address by index) are
/// reserved and charged at their declared size but commit host memory only
/// where written; hash and device map values are stored in slots handed
/// out as entries are added, and the region programs can reach grows with
/// them, so a map declaring 67 M entries with 10 in use costs 10 entries.
///
/// Semantics follow the kernel's arraymap.c, hashtab.c, devmap.c, cpumap.c
/// and xskmap.c, including their error codes.
public final class BPFMap {
  /// The definition the map was built from.
  public let definition: MapDefinition
  /// Its index in the object's map table (what `ld_imm64` source 5 names).
  public let index: Int
  let processors: Int
  /// Bytes between consecutive values (value size rounded up to 8).
  let stride: Int
  let values: Region?
  let space: AddressSpace
  let kind: Kind

  /// Hash maps and sparse arrays (devmap, cpumap, xskmap): slots by key.
  let keyTable: MapKeyTable?
  /// The key of each slot handed out so far (nil when freed).
  var keyBySlot: [[UInt8]?] = []
  /// Slots freed by deletes, reused first (most recent last).
  var freeSlots: [Int] = []
  /// Bytes of bookkeeping charged to the budget for the slots reachable.
  var bookkeepingCharged = 0
  /// Programs of a PROG_ARRAY, by index, with the JIT's table of their code.
  let programs: ProgramSlots
  /// The entries of an LPM_TRIE (BPFMap+PrefixTrie.swift).
  var trie: PrefixTrie?
  /// Sparse arrays: what `redirect_map` reads, by key (``RedirectSlots``).
  let redirects: RedirectSlots?

  enum Kind { case array, sparseArray, hash, programArray, prefixTrie }

  /// Budget charged per slot for its key, LRU clock and dictionary entry.
  static let bookkeepingPerSlot = 64
  /// The most address space a hash or device map's values take (1 GiB):
  /// its declared size when smaller. Entries past it are refused.
  static let slotRange = 1 << 30

  init(_ definition: MapDefinition, index: Int, processors: Int, in space: AddressSpace)
    throws(MachineError)
  {
    self.definition = definition
    self.index = index
    self.space = space
    let type = definition.type
    switch type {
    case .array, .perCPUArray: kind = .array
    case .devmap, .cpumap, .xskmap: kind = .sparseArray
    case .hash, .perCPUHash, .lruHash, .lruPerCPUHash, .devmapHash: kind = .hash
    case .programArray: kind = .programArray
    case .lpmTrie: kind = .prefixTrie
    default: throw .unsupportedMap(name: definition.name, type: type)
    }
    let entries = Int(definition.maxEntries)
    guard entries > 0, definition.valueSize > 0, definition.keySize > 0 else {
      throw .invalidMap(
        name: definition.name, reason: "key, value size and max_entries must be > 0")
    }
    if kind == .prefixTrie, let refusal = PrefixTrie.refusal(of: definition) {
      throw .invalidMap(name: definition.name, reason: refusal)
    }
    if kind != .hash, kind != .prefixTrie, definition.keySize != 4 {
      throw .invalidMap(name: definition.name, reason: "array-like maps need 4-byte keys")
    }
    self.processors = type.isPerCPU ? processors : 1
    programs = ProgramSlots(entries: kind == .programArray ? entries : 0)
    stride = (Int(definition.valueSize) + 7) & ~7
    let bytes = entries.multipliedReportingOverflow(by: stride * self.processors)
    let name = "map \(definition.name)"
    // Hash and device maps take at most ``slotRange`` of it, whatever they declare.
    guard !bytes.overflow,
      kind == .hash || kind == .sparseArray || kind == .programArray || kind == .prefixTrie
        || bytes.partialValue <= AddressSpace.maximumSize
    else {
      throw .addressSpace(
        .exhausted(requested: bytes.overflow ? .max : bytes.partialValue, name: name))
    }
    do {
      switch kind {
      case .programArray: values = nil
      case .array: values = try space.map(length: bytes.partialValue, name: name)
      case .sparseArray, .hash, .prefixTrie:
        values = try space.reserve(length: min(bytes.partialValue, Self.slotRange), name: name)
      }
    } catch {
      throw .addressSpace(error)
    }
    if kind == .prefixTrie { trie = PrefixTrie(keySize: Int(definition.keySize)) }
    if kind == .sparseArray {
      guard let slots = RedirectSlots(entries: entries) else {
        throw .addressSpace(
          .exhausted(requested: entries * RedirectSlots.keyBytes, name: "\(name) redirects"))
      }
      redirects = slots
    } else {
      redirects = nil
    }
    keyTable =
      kind == .hash || kind == .sparseArray
      ? MapKeyTable(keySize: Int(definition.keySize), seed: .random(in: 0 ... .max)) : nil
    if let initial = definition.initialValue, kind == .array, let values {
      space.write(Array(initial.prefix(Int(definition.valueSize))), at: UInt64(values.start))
    }
    // The verifier refuses programs' stores into these values; the
    // engine refuses them at run time too (AddressSpace+Writes.swift).
    if !definition.programsMayWrite, let values { space.protectValues(values) }
  }

  deinit { space.budget.release(bookkeepingCharged) }

  /// The address of the first value (for `ld_imm64` source 6: global data).
  var firstValueAddress: UInt32? { kind == .array ? values?.start : nil }

  /// The address of `slot`'s value for `processor`.
  func valueAddress(slot: Int, processor: Int) -> UInt64 {
    UInt64(values!.start) + UInt64((slot * processors + min(processor, processors - 1)) * stride)
  }

  // MARK: Core operations, kernel error codes.

  /// The slot a key selects, if present; a program's lookup marks LRU
  /// use, a lookup from user space does not (the kernel's
  /// `htab_lru_map_lookup_elem_sys`).
  func slot(for key: [UInt8], markingUse: Bool = true) -> Int? {
    switch kind {
    case .array:
      let index = Self.index(key)
      return index < Int(definition.maxEntries) ? index : nil
    case .sparseArray:
      return keyTable!.slot(of: key)
    case .hash:
      guard let slot = keyTable!.slot(of: key) else { return nil }
      if markingUse, isLRU { keyTable!.touch(slot, listed: true) }
      return slot
    case .programArray:
      let index = Self.index(key)
      return programs[index] != nil ? index : nil
    case .prefixTrie:
      return trie?.match(key)
    }
  }

  /// `map_update_elem`: 0 or a negative errno. A key or value of another
  /// size than the map's is `EINVAL`, before anything is looked up or
  /// stored (the kernel copies exactly `key_size` and `value_size` bytes
  /// and checks both in `map_update_elem`; here a short key would reach
  /// the key table, which holds keys of one size only).
  ///
  /// - Throws: ``AddressSpaceError`` when a new entry does not fit the
  ///   process's memory budget or the map's share of the address space.
  func update(key: [UInt8], value: [UInt8], flags: UInt64, processor: Int?)
    throws(AddressSpaceError) -> Int32
  {
    guard key.count == Int(definition.keySize), value.count == Int(definition.valueSize) else {
      return -Errno.invalid
    }
    let command = flags & ~MapUpdateFlag.lock
    guard flags & MapUpdateFlag.lock == 0, command <= 2 else { return -Errno.invalid }
    let slot: Int
    switch kind {
    case .array:
      let index = Self.index(key)
      guard index < Int(definition.maxEntries) else { return -Errno.tooBig }
      if command == 1 { return -Errno.exists }
      slot = index
    case .sparseArray:
      let index = Self.index(key)
      guard index < Int(definition.maxEntries) else { return -Errno.tooBig }
      if command == 1 { return -Errno.exists }
      try commitRedirectSlot(index)
      if let existing = keyTable!.slot(of: key) {
        slot = existing
      } else {
        guard let free = try allocateSlot() else { return -Errno.tooBig }
        keyTable!.insert(key, slot: free)
        keyBySlot[free] = key
        slot = free
      }
    case .hash:
      let existing = keyTable!.slot(of: key)
      if let existing {
        if command == 1 { return -Errno.exists }
        slot = existing
      } else {
        if command == 2 { return -Errno.notFound }
        guard let free = try allocateSlot() else { return -Errno.tooBig }
        keyTable!.insert(key, slot: free)
        keyBySlot[free] = key
        slot = free
      }
      if isLRU { keyTable!.touch(slot, listed: existing != nil) }
    case .programArray:
      return -Errno.invalid
    case .prefixTrie:
      let placed = try placeInTrie(key, command: command)
      guard placed >= 0 else { return Int32(placed) }
      slot = placed
    }
    for cpu in 0..<processors where processor == nil || processor == cpu {
      space.write(value, at: valueAddress(slot: slot, processor: cpu))
    }
    if let redirects {
      let index = Self.index(key)
      redirects.store(redirectWords(key: UInt32(index), value: value), at: index)
    }
    return 0
  }

  /// Charges the page of ``redirects`` that holds `key`'s words, once.
  private func commitRedirectSlot(_ key: Int) throws(AddressSpaceError) {
    guard let redirects, !redirects.isCommitted(key) else { return }
    do {
      try space.budget.charge(AddressSpace.pageSize, for: "map \(definition.name)")
    } catch {
      throw .budget(error)
    }
    bookkeepingCharged += AddressSpace.pageSize
    redirects.commit(key)
  }

  /// A free slot: a freed one, else a new one (growing the reachable
  /// values), else (LRU maps, full) the least recently used one.
  private func allocateSlot() throws(AddressSpaceError) -> Int? {
    if let free = freeSlots.popLast() { return free }
    if keyBySlot.count < Int(definition.maxEntries) {
      let slot = keyBySlot.count
      try makeReachable(slots: slot + 1)
      // The key table's share: up to four 8-byte buckets, the recency
      // link and the key (more than the flat charge for keys past 24 bytes).
      let bookkeeping = max(Self.bookkeepingPerSlot, 40 + (keyTable?.keyStride ?? 0))
      do {
        try space.budget.charge(bookkeeping, for: "map \(definition.name)")
      } catch {
        throw .budget(error)
      }
      bookkeepingCharged += bookkeeping
      keyBySlot.append(nil)
      return slot
    }
    guard isLRU, let victim = keyTable!.leastRecent, let key = keyBySlot[victim] else {
      return nil
    }
    _ = keyTable!.remove(key)
    keyTable!.unlink(victim)
    keyBySlot[victim] = nil
    return victim
  }

  /// Opens values for at least `slots` slots, doubling what is reachable.
  func makeReachable(slots: Int) throws(AddressSpaceError) {
    guard let values else { return }
    let needed = slots * stride * processors
    let reachable = space.reachableBytes(of: values)
    guard needed > reachable else { return }
    guard needed <= values.length else {
      throw .exhausted(requested: needed, name: values.name)
    }
    do {
      try space.reach(values, bytes: max(needed, 2 * reachable))
    } catch {
      try space.reach(values, bytes: needed)  // no room to double: just what is needed
    }
  }

  /// `map_delete_elem`: 0 or a negative errno.
  func delete(key: [UInt8]) -> Int32 {
    switch kind {
    case .array: return -Errno.invalid
    case .prefixTrie: return deleteFromTrie(key)
    case .programArray:
      let index = Self.index(key)
      guard index < Int(definition.maxEntries) else { return -Errno.invalid }
      programs[index] = nil
      return 0
    case .sparseArray, .hash:
      if kind == .sparseArray, Self.index(key) >= Int(definition.maxEntries) {
        return -Errno.invalid
      }
      guard let slot = keyTable!.remove(key) else {
        return kind == .hash ? -Errno.notFound : 0
      }
      if isLRU { keyTable!.unlink(slot) }
      redirects?.store(.none, at: Self.index(key))
      keyBySlot[slot] = nil
      freeSlots.append(slot)
      space.write(
        Array(repeating: 0, count: stride * processors), at: valueAddress(slot: slot, processor: 0))
      return 0
    }
  }

  /// An LRU_HASH or LRU_PERCPU_HASH: full, an update evicts the least
  /// recently used entry (``MapKeyTable/leastRecent``).
  var isLRU: Bool { definition.type == .lruHash || definition.type == .lruPerCPUHash }

  static func index(_ key: [UInt8]) -> Int {
    key.count >= 4
      ? Int(UInt32(key[0]) | UInt32(key[1]) << 8 | UInt32(key[2]) << 16 | UInt32(key[3]) << 24)
      : Int.max
  }
}
