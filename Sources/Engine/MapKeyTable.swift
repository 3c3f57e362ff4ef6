/// Which slot of a map holds a key: the index of hash maps (HASH,
/// PERCPU_HASH, their LRU forms, DEVMAP_HASH) and of the sparse arrays
/// (DEVMAP, CPUMAP, XSKMAP), laid out so that the JIT's machine code finds
/// a key without calling into Swift (``JITCompiler/emitKeyProbe``).
///
/// Open addressing with linear probing in host memory the program cannot
/// reach: each bucket is one word, the slot plus one in the low half and
/// 31 bits of the key's hash in the high half (0: empty; all ones: a
/// deleted entry); the keys lie in their slots' order, ``keyStride``
/// bytes apart, and are compared in place. The hash is computed over the
/// key's little-endian 32-bit words (the last one padded with zeros) from
/// a seed drawn per table, so a program's keys cannot be chosen to
/// collide. A lookup allocates nothing; the table doubles when live and
/// deleted entries pass half of it.
final class MapKeyTable {
  /// Byte offsets of the header words machine code reads.
  enum Field {
    /// The buckets' address.
    static let buckets: Int32 = 0
    /// Buckets minus one (a power of two minus one).
    static let mask: Int32 = 8
    /// The keys' address (slot `s` at `keys + s * keyStride`).
    static let keys: Int32 = 16
    /// The hash's seed.
    static let seed: Int32 = 24
    /// The hash's multiplier (in memory, so machine code multiplies by it
    /// without a spare register).
    static let multiplier: Int32 = 32
    /// The key's size rounded up to whole 32-bit words, in bytes.
    static let keyBytes: Int32 = 40
    /// Bytes between consecutive keys.
    static let keyStride: Int32 = 48
    /// The recency list of an LRU map (``MapKeyTable+Recency.swift``):
    /// per slot one word, the previous slot plus one in the low half and
    /// the next plus one in the high half (0: none).
    static let links: Int32 = 56
    /// The most recently used slot plus one (0: the list is empty).
    static let head: Int32 = 64
    /// The least recently used slot plus one.
    static let tail: Int32 = 72
    static let count = 10
  }

  static let multiplier: UInt64 = 0x9e37_79b9_7f4a_7c15
  static let tombstone: UInt64 = .max

  /// The header, ``Field/count`` words at a fixed address for the table's life.
  let header: UnsafeMutablePointer<UInt64>
  let keySize: Int
  let keyStride: Int
  private var buckets: UnsafeMutablePointer<UInt64>
  private var capacity: Int
  /// Live and deleted buckets.
  private var occupied = 0
  private var keys: UnsafeMutableRawPointer
  private var keyCapacity: Int
  /// The recency list's links, ``keyCapacity`` words.
  var links: UnsafeMutablePointer<UInt64>

  init(keySize: Int, seed: UInt64) {
    self.keySize = keySize
    keyStride = (keySize + 7) & ~7
    capacity = 16
    buckets = .allocate(capacity: capacity)
    buckets.initialize(repeating: 0, count: capacity)
    keyCapacity = 8
    keys = .allocate(byteCount: keyCapacity * keyStride, alignment: 8)
    links = .allocate(capacity: keyCapacity)
    links.initialize(repeating: 0, count: keyCapacity)
    header = .allocate(capacity: Field.count)
    header.initialize(repeating: 0, count: Field.count)
    self[Field.seed] = seed
    self[Field.multiplier] = Self.multiplier
    self[Field.keyBytes] = UInt64((keySize + 3) & ~3)
    self[Field.keyStride] = UInt64(keyStride)
    publish()
  }

  deinit {
    buckets.deallocate()
    keys.deallocate()
    links.deallocate()
    header.deallocate()
  }

  subscript(field: Int32) -> UInt64 {
    get { header[Int(field) / 8] }
    set { header[Int(field) / 8] = newValue }
  }

  private func publish() {
    self[Field.buckets] = UInt64(UInt(bitPattern: buckets))
    self[Field.mask] = UInt64(capacity - 1)
    self[Field.keys] = UInt64(UInt(bitPattern: keys))
    self[Field.links] = UInt64(UInt(bitPattern: links))
  }

  /// The hash machine code computes for the same bytes.
  func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
    var h = self[Field.seed]
    var offset = 0
    while offset < key.count {
      var word: UInt32 = 0
      for byte in 0..<min(4, key.count - offset) {
        word |= UInt32(key[offset + byte]) << (8 * byte)
      }
      h = (h ^ UInt64(word)) &* Self.multiplier
      h ^= h >> 29
      offset += 4
    }
    return h
  }

  private func matches(_ key: UnsafeRawBufferPointer, slot: Int) -> Bool {
    UnsafeRawBufferPointer(start: keys + slot * keyStride, count: keySize).elementsEqual(key)
  }

  /// The bucket holding `key`, or nil.
  private func bucket(of key: UnsafeRawBufferPointer) -> Int? {
    let h = hash(key)
    let tag = h >> 33
    var position = Int(truncatingIfNeeded: h)
    while true {
      let entry = buckets[position & (capacity - 1)]
      if entry == 0 { return nil }
      if entry >> 32 == tag, matches(key, slot: Int(entry & 0xffff_ffff) - 1) {
        return position & (capacity - 1)
      }
      position &+= 1
    }
  }

  /// The slot of `key` (exactly ``keySize`` bytes), or nil.
  func slot(of key: [UInt8]) -> Int? {
    guard key.count == keySize else { return nil }
    return key.withUnsafeBytes { bytes in
      bucket(of: bytes).map { Int(buckets[$0] & 0xffff_ffff) - 1 }
    }
  }

  /// Records `key`, absent so far, in `slot`.
  func insert(_ key: [UInt8], slot: Int) {
    precondition(key.count == keySize, "a key of the table's size")
    if (occupied + 1) * 2 > capacity { rebuild(capacity: capacity * 2) }
    if slot >= keyCapacity { growKeys(to: slot + 1) }
    key.withUnsafeBytes { bytes in
      (keys + slot * keyStride).copyMemory(from: bytes.baseAddress!, byteCount: keySize)
      let h = hash(bytes)
      var position = Int(truncatingIfNeeded: h)
      while buckets[position & (capacity - 1)] != 0 { position &+= 1 }
      buckets[position & (capacity - 1)] = (h >> 33) << 32 | UInt64(slot + 1)
    }
    occupied += 1
  }

  /// Forgets `key`; its slot, or nil when absent.
  func remove(_ key: [UInt8]) -> Int? {
    guard key.count == keySize else { return nil }
    return key.withUnsafeBytes { bytes -> Int? in
      guard let bucket = bucket(of: bytes) else { return nil }
      let slot = Int(buckets[bucket] & 0xffff_ffff) - 1
      buckets[bucket] = Self.tombstone
      return slot
    }
  }

  /// Copies the live entries into `capacity` buckets (deleted ones go).
  private func rebuild(capacity newCapacity: Int) {
    var live = 0
    for index in 0..<capacity where buckets[index] != 0 && buckets[index] != Self.tombstone {
      live += 1
    }
    // Many deleted entries: the same size is enough.
    let size = (live + 1) * 4 <= capacity ? capacity : newCapacity
    let old = buckets
    let oldCapacity = capacity
    buckets = .allocate(capacity: size)
    buckets.initialize(repeating: 0, count: size)
    capacity = size
    for index in 0..<oldCapacity where old[index] != 0 && old[index] != Self.tombstone {
      let slot = Int(old[index] & 0xffff_ffff) - 1
      let h = hash(UnsafeRawBufferPointer(start: keys + slot * keyStride, count: keySize))
      var position = Int(truncatingIfNeeded: h)
      while buckets[position & (capacity - 1)] != 0 { position &+= 1 }
      buckets[position & (capacity - 1)] = old[index]
    }
    old.deallocate()
    occupied = live
    publish()
  }

  private func growKeys(to slots: Int) {
    let size = max(slots, keyCapacity * 2)
    let grown = UnsafeMutableRawPointer.allocate(byteCount: size * keyStride, alignment: 8)
    grown.copyMemory(from: keys, byteCount: keyCapacity * keyStride)
    keys.deallocate()
    keys = grown
    let grownLinks = UnsafeMutablePointer<UInt64>.allocate(capacity: size)
    grownLinks.initialize(repeating: 0, count: size)
    grownLinks.update(from: links, count: keyCapacity)
    links.deallocate()
    links = grownLinks
    keyCapacity = size
    publish()
  }
}
