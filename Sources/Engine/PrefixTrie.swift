import BPF

/// The keys of a `BPF_MAP_TYPE_LPM_TRIE` and where each entry's value
/// lives, with the kernel's semantics (kernel/bpf/lpm_trie.c).
///
/// A key is `struct bpf_lpm_trie_key_u8`: a host-order `u32` prefix
/// length, then `key_size - 4` data bytes compared most significant bit
/// first (network order for addresses). An entry is named by its prefix
/// length and the data's first that many bits: the bits after them are
/// kept as given (`get_next_key` returns them) but never compared.
///
/// - A lookup (from a program or user space) finds the entry with the
///   longest prefix, no longer than the key's, that the key's data
///   matches; a key longer than the data has bits finds nothing.
/// - Keys come out in the kernel's postorder: where two entries' prefixes
///   first differ, the one with a 0 bit first; an entry after every
///   entry its prefix covers (more specific first).
///
/// Lookups probe one dictionary per prefix length in use, longest first,
/// so a table of prefixes of a few lengths costs a few probes.
struct PrefixTrie {
  /// Bytes of a key's data (`key_size - 4`).
  let dataSize: Int
  /// The longest prefix (`8 * dataSize` bits).
  var maxPrefixLength: Int { dataSize * 8 }

  /// Entries by name (the prefix length, then the data masked to it).
  private var slotByName: [[UInt8]: Int] = [:]
  /// Each slot's key as last stored (nil when free).
  private(set) var keyBySlot: [[UInt8]?] = []
  /// Slots freed by deletes, reused first.
  private var freeSlots: [Int] = []
  /// How many entries have each prefix length.
  private var entriesByLength: [Int: Int] = [:]
  /// The prefix lengths in use, longest first.
  private var lengthsInUse: [Int] = []

  /// The four bytes the kernel puts before the data.
  static let prefixLengthSize = 4
  /// The most data bytes a key may have (`LPM_DATA_SIZE_MAX`).
  static let maxDataSize = 256
  /// `BPF_F_NO_PREALLOC`, which the kernel requires of a trie.
  static let noPreallocation: UInt32 = 1
  /// The creation flags the kernel accepts for a trie: `BPF_F_NO_PREALLOC`,
  /// `BPF_F_NUMA_NODE`, `BPF_F_RDONLY`, `BPF_F_WRONLY`,
  /// `BPF_F_RDONLY_PROG`, `BPF_F_WRONLY_PROG`.
  static let acceptedFlags: UInt32 = 1 | 4 | 8 | 16 | 128 | 256

  init(keySize: Int) {
    dataSize = keySize - Self.prefixLengthSize
  }

  /// Why the kernel's `trie_alloc` would refuse `definition` (`EINVAL`),
  /// nil when it would not.
  static func refusal(of definition: MapDefinition) -> String? {
    let key = Int(definition.keySize)
    let flags = definition.flags
    if key < prefixLengthSize + 1 || key > prefixLengthSize + maxDataSize {
      return "an LPM trie's key is a 4-byte prefix length and 1 to 256 data bytes, not \(key) bytes"
    }
    if flags & noPreallocation == 0 {
      return "an LPM trie must be created with BPF_F_NO_PREALLOC (map_flags 1)"
    }
    if flags & ~acceptedFlags != 0 {
      return "map_flags 0x\(String(flags, radix: 16)) are not valid for an LPM trie"
    }
    let rdonly: UInt32 = 8
    let wronly: UInt32 = 16
    let rdonlyProg: UInt32 = 128
    let wronlyProg: UInt32 = 256
    if flags & rdonly != 0 && flags & wronly != 0
      || flags & rdonlyProg != 0 && flags & wronlyProg != 0
    {
      return "map_flags 0x\(String(flags, radix: 16)) make the trie both read-only and write-only"
    }
    return nil
  }

  /// The number of entries.
  var count: Int { slotByName.count }

  /// The slots handed out so far (used or free).
  var slotCount: Int { keyBySlot.count }

  /// A key's prefix length, as the kernel reads it (host order).
  static func prefixLength(of key: [UInt8]) -> Int {
    Int(UInt32(key[0]) | UInt32(key[1]) << 8 | UInt32(key[2]) << 16 | UInt32(key[3]) << 24)
  }

  /// The name of the entry `key` would be with `length` bits: the length,
  /// then the data with every bit past `length` cleared.
  private func name(of key: [UInt8], length: Int) -> [UInt8] {
    var name = [UInt8](repeating: 0, count: Self.prefixLengthSize + dataSize)
    withUnsafeBytes(of: UInt32(length).littleEndian) { name.replaceSubrange(0..<4, with: $0) }
    let whole = length / 8
    for byte in 0..<whole { name[4 + byte] = key[4 + byte] }
    if length % 8 != 0 { name[4 + whole] = key[4 + whole] & ~(0xFF >> UInt8(length % 8)) }
    return name
  }

  // MARK: The kernel's operations.

  /// `trie_lookup_elem`: the slot of the longest prefix matching `key`.
  func match(_ key: [UInt8]) -> Int? {
    let limit = Self.prefixLength(of: key)
    guard limit <= maxPrefixLength else { return nil }
    for length in lengthsInUse where length <= limit {
      if let slot = slotByName[name(of: key, length: length)] { return slot }
    }
    return nil
  }

  /// The slot of the entry `key` names exactly, if present.
  func exactSlot(_ key: [UInt8]) -> Int? {
    let length = Self.prefixLength(of: key)
    guard length <= maxPrefixLength else { return nil }
    return slotByName[name(of: key, length: length)]
  }

  /// Where an update's value goes.
  enum Placement: Equatable {
    /// The entry's existing slot, or a new one (`newSlot` true: the
    /// caller makes it reachable before writing).
    case slot(Int, newSlot: Bool)
    /// The kernel's negative errno.
    case refused(Int32)
  }

  /// `trie_update_elem` without the value: where `key`'s value goes under
  /// `command` (`BPF_ANY` 0, `BPF_NOEXIST` 1, `BPF_EXIST` 2), with the
  /// kernel's errors (`EINVAL` for a prefix longer than the data,
  /// `EEXIST`, `ENOENT`, `ENOSPC` when `capacity` entries are in use).
  mutating func place(_ key: [UInt8], command: UInt64, capacity: Int) -> Placement {
    let length = Self.prefixLength(of: key)
    guard length <= maxPrefixLength else { return .refused(-Errno.invalid.rawValue) }
    let name = name(of: key, length: length)
    if let existing = slotByName[name] {
      if command == 1 { return .refused(-Errno.exists.rawValue) }
      keyBySlot[existing] = key  // the bits past the prefix, as given
      return .slot(existing, newSlot: false)
    }
    if command == 2 { return .refused(-Errno.notFound.rawValue) }
    guard count < capacity else { return .refused(-Errno.noSpace.rawValue) }
    let slot: Int
    let isNew: Bool
    if let free = freeSlots.popLast() {
      slot = free
      isNew = false
      keyBySlot[slot] = key
    } else {
      slot = keyBySlot.count
      isNew = true
      keyBySlot.append(key)
    }
    slotByName[name] = slot
    entriesByLength[length, default: 0] += 1
    if entriesByLength[length] == 1 { lengthsInUse = entriesByLength.keys.sorted(by: >) }
    return .slot(slot, newSlot: isNew)
  }

  /// Takes back a slot ``place(_:command:capacity:)`` handed out as new
  /// when its value could not be made reachable.
  mutating func abandon(slot: Int) {
    guard slot == keyBySlot.count - 1, let key = keyBySlot[slot] else { return }
    remove(key, slot: slot)
    keyBySlot.removeLast()
    freeSlots.removeAll { $0 == slot }
  }

  /// `trie_delete_elem`: the freed slot, or the kernel's negative errno
  /// (`EINVAL` for a prefix longer than the data, `ENOENT`).
  mutating func delete(_ key: [UInt8]) -> Result<Int, Errno> {
    let length = Self.prefixLength(of: key)
    guard length <= maxPrefixLength else { return .failure(.invalid) }
    guard let slot = slotByName[name(of: key, length: length)] else { return .failure(.notFound) }
    remove(key, slot: slot)
    return .success(slot)
  }

  private mutating func remove(_ key: [UInt8], slot: Int) {
    let length = Self.prefixLength(of: key)
    slotByName[name(of: key, length: length)] = nil
    keyBySlot[slot] = nil
    freeSlots.append(slot)
    entriesByLength[length, default: 1] -= 1
    if entriesByLength[length] == 0 {
      entriesByLength[length] = nil
      lengthsInUse = entriesByLength.keys.sorted(by: >)
    }
  }

  /// Every key, in the kernel's `get_next_key` order.
  var keys: [[UInt8]] {
    keyBySlot.compactMap { $0 }.sorted(by: precedes)
  }

  /// `trie_get_next_key`: the key after `key` in that order; the first
  /// key when `key` is nil, longer than the data has bits or names no
  /// entry; nil after the last key and in an empty trie (`ENOENT`).
  func nextKey(after key: [UInt8]?) -> [UInt8]? {
    let ordered = keys
    guard let key, let slot = exactSlot(key), let current = keyBySlot[slot],
      let position = ordered.firstIndex(of: current)
    else { return ordered.first }
    return position + 1 < ordered.count ? ordered[position + 1] : nil
  }

  /// Whether `a` comes before `b` in the kernel's postorder: at the
  /// first bit where their prefixes differ, the 0 first; when one prefix
  /// covers the other, the longer first.
  func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    let lengthA = Self.prefixLength(of: a)
    let lengthB = Self.prefixLength(of: b)
    let common = min(lengthA, lengthB)
    var bit = 0
    while bit < common {
      let byte = 4 + bit / 8
      let difference = a[byte] ^ b[byte]
      if difference != 0 {
        // The first differing bit of this byte, most significant first.
        let first = difference.leadingZeroBitCount
        if bit / 8 * 8 + first >= common { break }
        return a[byte] & (0x80 >> UInt8(first)) == 0
      }
      bit = (bit / 8 + 1) * 8
    }
    return lengthA > lengthB
  }
}
