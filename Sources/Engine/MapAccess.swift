import BPF

/// Why a user-side map operation failed: the kernel's error number, as
/// `bpf(2)` would report it.
public struct MapOperationError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The map's name.
  public var map: String
  /// `lookup`, `update` or `delete`.
  public var operation: String
  /// The positive errno (`ENOENT` 2, `E2BIG` 7, `EEXIST` 17, `EINVAL` 22).
  public var code: Int32

  /// Describes a failed operation.
  public init(map: String, operation: String, code: Int32) {
    self.map = map
    self.operation = operation
    self.code = code
  }

  /// `map rxcnt: update failed with errno 7`.
  public var description: String { "map \(map): \(operation) failed with errno \(code)" }
}

extension BPFMap {
  /// The value for `key` on `processor`, or nil when absent. Like the
  /// kernel's lookup from user space, it does not count as a use of an
  /// LRU map's entry.
  public func lookup(key: [UInt8], processor: Int = 0) -> [UInt8]? {
    guard kind != .programArray, key.count == Int(definition.keySize),
      let slot = slot(for: key, markingUse: false)
    else { return nil }
    return space.read(
      valueAddress(slot: slot, processor: processor), count: Int(definition.valueSize))
  }

  /// Every processor's value for `key` (one element for shared maps).
  public func perProcessorValues(key: [UInt8]) -> [[UInt8]]? {
    guard kind != .programArray, key.count == Int(definition.keySize),
      let slot = slot(for: key, markingUse: false)
    else { return nil }
    return (0..<processors).compactMap {
      space.read(valueAddress(slot: slot, processor: $0), count: Int(definition.valueSize))
    }
  }

  /// Sets `key` to `value` (on every processor for per-CPU maps); `flags`
  /// is `BPF_ANY` 0, `BPF_NOEXIST` 1 or `BPF_EXIST` 2.
  /// A key or value of another size than the map's is `EINVAL`.
  public func update(key: [UInt8], value: [UInt8], flags: UInt64 = 0) throws(MapOperationError) {
    let result: Int32
    do {
      result = try update(key: key, value: value, flags: flags, processor: nil)
    } catch {
      throw MapOperationError(
        map: definition.name, operation: "update", code: Errno.outOfMemory.rawValue)
    }
    if result != 0 {
      throw MapOperationError(map: definition.name, operation: "update", code: -result)
    }
  }

  /// Removes `key`.
  public func delete(key: [UInt8]) throws(MapOperationError) {
    let result = key.count == Int(definition.keySize) ? delete(key: key) : -Errno.invalid
    if result != 0 {
      throw MapOperationError(map: definition.name, operation: "delete", code: -result)
    }
  }

  /// The keys present: every index of an array, the entries of a hash map
  /// in slot order, the set indices of device and program arrays in order.
  public var keys: [[UInt8]] {
    switch kind {
    case .array: (0..<definition.maxEntries).map { Self.key($0) }
    case .sparseArray:
      keyBySlot.compactMap { $0 }.sorted { Self.index($0) < Self.index($1) }
    case .hash: keyBySlot.compactMap { $0 }
    case .programArray: programs.keys.sorted().map { Self.key(UInt32($0)) }
    case .prefixTrie: trie?.keys ?? []
    }
  }

  /// The keys whose entry may hold something: for arrays, the indices with
  /// a non-zero value on some processor (found without touching memory a
  /// program never wrote); for other maps, ``keys``. What map listings and
  /// comparisons use, so an array declaring 67 M entries costs what is set.
  public var storedKeys: [[UInt8]] {
    guard kind == .array, let values else { return keys }
    let entryBytes = stride * processors
    var found: [[UInt8]] = []
    let pageCount = (values.length + AddressSpace.pageSize - 1) / AddressSpace.pageSize
    for page in space.possiblyWrittenPages(from: UInt64(values.start), pages: pageCount) {
      let offset = page * AddressSpace.pageSize
      let length = min(AddressSpace.pageSize, values.length - offset)
      if space.isZero(UInt64(values.start) + UInt64(offset), count: length) { continue }
      let first = max(offset / entryBytes, found.last.map { Self.index($0) + 1 } ?? 0)
      let last = min((offset + length - 1) / entryBytes, Int(definition.maxEntries) - 1)
      guard first <= last else { continue }
      for entry in first...last where !isZeroEntry(entry) { found.append(Self.key(UInt32(entry))) }
    }
    return found
  }

  private func isZeroEntry(_ slot: Int) -> Bool {
    (0..<processors).allSatisfy {
      space.isZero(valueAddress(slot: slot, processor: $0), count: Int(definition.valueSize))
    }
  }

  /// Whether the values can be the kernel's own pages
  /// (``share(memoryOf:)``): an ARRAY, not per-CPU.
  public var canShareMemory: Bool { definition.type == .array && values != nil }

  /// Puts the pages of `descriptor`, the kernel's ARRAY map of this
  /// layout created with `BPF_F_MMAPABLE`, in place of the values: from
  /// then on programs read and write the kernel's values in place, at
  /// the same addresses as before (value `i` at the first value plus
  /// `i` times the value size rounded up to 8, the kernel's
  /// `elem_size`). Call it before any program runs.
  ///
  /// - Throws: ``AddressSpaceError/unshareable(name:errno:)`` when the
  ///   map is no such array (`EINVAL`) or the kernel refuses the mapping;
  ///   the values are then the machine's own, as before.
  public func share(memoryOf descriptor: Int32) throws(AddressSpaceError) {
    guard canShareMemory, let values else {
      throw .unshareable(name: "map \(definition.name)", errno: Errno.invalid.rawValue)
    }
    try space.share(values, descriptor: descriptor)
  }

  /// Puts a prepared program at `index` of a PROG_ARRAY (nil clears it).
  public func setProgram(_ program: PreparedProgram?, at index: UInt32) throws(MapOperationError) {
    guard kind == .programArray, index < definition.maxEntries else {
      throw MapOperationError(
        map: definition.name, operation: "update", code: Errno.invalid.rawValue)
    }
    // No run is under way when this is called: what earlier runs
    // retired can go.
    programs.releaseRetired()
    programs[Int(index)] = program
  }

  /// A 4-byte little-endian key.
  public static func key(_ index: UInt32) -> [UInt8] {
    withUnsafeBytes(of: index.littleEndian) { Array($0) }
  }
}
