import BPF

/// One BPF map of a machine. Values live in the machine's address space, so
/// `map_lookup_elem` hands the program a pointer it can read and write; the
/// bookkeeping (which keys exist, LRU order) lives on the Swift side.
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

  // Sparse arrays (devmap, cpumap, xskmap, prog_array): which slots are set.
  var occupied: [Bool]
  // Hash maps.
  var slotByKey: [[UInt8]: Int] = [:]
  var keyBySlot: [[UInt8]?]
  var freeSlots: [Int]
  var lastUse: [UInt64]
  var useClock: UInt64 = 0
  /// Programs of a PROG_ARRAY, by index.
  var programs: [PreparedProgram?]

  enum Kind { case array, sparseArray, hash, programArray }

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
    default: throw .unsupportedMap(name: definition.name, type: type)
    }
    let entries = Int(definition.maxEntries)
    guard entries > 0, definition.valueSize > 0, definition.keySize > 0 else {
      throw .invalidMap(
        name: definition.name, reason: "key, value size and max_entries must be > 0")
    }
    if kind != .hash, definition.keySize != 4 {
      throw .invalidMap(name: definition.name, reason: "array-like maps need 4-byte keys")
    }
    self.processors = type.isPerCPU ? processors : 1
    stride = (Int(definition.valueSize) + 7) & ~7
    let bytes = entries.multipliedReportingOverflow(by: stride * self.processors)
    guard !bytes.overflow, bytes.partialValue <= AddressSpace.maximumSize else {
      throw .invalidMap(name: definition.name, reason: "values do not fit the address space")
    }
    if kind == .programArray {
      values = nil
    } else {
      do {
        values = try space.map(length: bytes.partialValue, name: "map \(definition.name)")
      } catch {
        throw .addressSpace(error)
      }
    }
    occupied = kind == .sparseArray ? Array(repeating: false, count: entries) : []
    keyBySlot = kind == .hash ? Array(repeating: nil, count: entries) : []
    freeSlots = kind == .hash ? Array((0..<entries).reversed()) : []
    lastUse = kind == .hash ? Array(repeating: 0, count: entries) : []
    programs = kind == .programArray ? Array(repeating: nil, count: entries) : []
    if let initial = definition.initialValue, kind == .array, let values {
      space.write(Array(initial.prefix(Int(definition.valueSize))), at: UInt64(values.start))
    }
  }

  /// The address of the first value (for `ld_imm64` source 6: global data).
  var firstValueAddress: UInt32? { kind == .array ? values?.start : nil }

  /// The address of `slot`'s value for `processor`.
  func valueAddress(slot: Int, processor: Int) -> UInt64 {
    UInt64(values!.start) + UInt64((slot * processors + min(processor, processors - 1)) * stride)
  }

  // MARK: Core operations, kernel error codes.

  /// The slot a key selects, if present (marks LRU use).
  func slot(for key: [UInt8]) -> Int? {
    switch kind {
    case .array:
      let index = Self.index(key)
      return index < Int(definition.maxEntries) ? index : nil
    case .sparseArray:
      let index = Self.index(key)
      return index < occupied.count && occupied[index] ? index : nil
    case .hash:
      guard let slot = slotByKey[key] else { return nil }
      useClock += 1
      lastUse[slot] = useClock
      return slot
    case .programArray:
      let index = Self.index(key)
      return index < programs.count && programs[index] != nil ? index : nil
    }
  }

  /// `map_update_elem`: 0 or a negative errno.
  func update(key: [UInt8], value: [UInt8], flags: UInt64, processor: Int?) -> Int32 {
    let command = flags & ~MapUpdateFlag.lock
    guard flags & MapUpdateFlag.lock == 0, command <= 2 else { return -Errno.invalid }
    let slot: Int
    switch kind {
    case .array, .sparseArray:
      let index = Self.index(key)
      guard index < Int(definition.maxEntries) else { return -Errno.tooBig }
      if kind == .array {
        if command == 1 { return -Errno.exists }
      } else if kind == .sparseArray {
        if command == 1 { return -Errno.exists }
        occupied[index] = true
      }
      slot = index
    case .hash:
      if let existing = slotByKey[key] {
        if command == 1 { return -Errno.exists }
        slot = existing
      } else {
        if command == 2 { return -Errno.notFound }
        guard let free = allocateSlot() else { return -Errno.tooBig }
        slotByKey[key] = free
        keyBySlot[free] = key
        slot = free
      }
      useClock += 1
      lastUse[slot] = useClock
    case .programArray:
      return -Errno.invalid
    }
    let bytes = Array(value.prefix(Int(definition.valueSize)))
    for cpu in 0..<processors where processor == nil || processor == cpu {
      space.write(bytes, at: valueAddress(slot: slot, processor: cpu))
    }
    return 0
  }

  private func allocateSlot() -> Int? {
    if let free = freeSlots.popLast() { return free }
    let lru = definition.type == .lruHash || definition.type == .lruPerCPUHash
    guard lru, let victim = lastUse.indices.min(by: { lastUse[$0] < lastUse[$1] }),
      let key = keyBySlot[victim]
    else { return nil }
    slotByKey[key] = nil
    keyBySlot[victim] = nil
    return victim
  }

  /// `map_delete_elem`: 0 or a negative errno.
  func delete(key: [UInt8]) -> Int32 {
    switch kind {
    case .array: return -Errno.invalid
    case .sparseArray, .programArray:
      let index = Self.index(key)
      guard index < Int(definition.maxEntries) else { return -Errno.invalid }
      if kind == .sparseArray { occupied[index] = false } else { programs[index] = nil }
      return 0
    case .hash:
      guard let slot = slotByKey.removeValue(forKey: key) else { return -Errno.notFound }
      keyBySlot[slot] = nil
      freeSlots.append(slot)
      if let values {
        let start = valueAddress(slot: slot, processor: 0)
        space.write(Array(repeating: 0, count: stride * processors), at: start)
        _ = values
      }
      return 0
    }
  }

  static func index(_ key: [UInt8]) -> Int {
    key.count >= 4
      ? Int(UInt32(key[0]) | UInt32(key[1]) << 8 | UInt32(key[2]) << 16 | UInt32(key[3]) << 24)
      : Int.max
  }
}
