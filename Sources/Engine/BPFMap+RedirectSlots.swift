import BPF
import Glibc

/// What `bpf_redirect_map` reads of an array-indexed redirect map
/// (DEVMAP, CPUMAP, XSKMAP): per key below `max_entries`, the
/// ``RedirectWords`` a hit leaves pending, or zeros where the map has no
/// entry. The kernel keeps these maps as arrays of entry pointers
/// (devmap.c `netdev_map`, cpumap.c `cpu_map`, xskmap.c `xsk_map`), and a
/// redirect is `key >= max_entries` → miss, else one load
/// (`__dev_map_lookup_elem`, `__cpu_map_lookup_elem`,
/// `__xsk_map_lookup_elem`); so is the engine's, in Swift
/// (``Machine``'s `redirect_map`) and in the JIT's code.
///
/// One writer: ``BPFMap``'s update and delete, through which every
/// change to such a map goes (the syscall side, the program's helpers,
/// the datapath's exchange with the kernel's maps). A DEVMAP entry's
/// interface is read from its value when the entry is stored, as the
/// kernel resolves the device at update time (`__dev_map_alloc_node`);
/// programs cannot write it (the kernel makes these maps
/// `BPF_F_RDONLY_PROG`; the engine refuses such a store when it prepares
/// the program, ``MapAccessRules``, and its write table at run time), so
/// the redirect and the value never disagree.
///
/// The table is host memory outside the machine's address space (no
/// program can reach it), mapped once for the map's life at 16 bytes a
/// key and committed by the page as keys are stored: each page a store
/// first touches is charged to the memory budget.
final class RedirectSlots {
  /// `max_entries`: keys at or above it miss.
  let entries: Int
  /// Two 64-bit words per key: kind | map << 32, then key | value << 32.
  let words: UnsafeMutablePointer<UInt64>
  private let bytes: Int
  /// Pages of ``words`` a store has touched (each charged once).
  private var touched: Set<Int> = []

  /// Bytes of host memory one key takes.
  static let keyBytes = 16

  /// Maps the table for `entries` keys; nil when the host refuses it.
  init?(entries: Int) {
    let page = AddressSpace.pageSize
    bytes = (entries * Self.keyBytes + page - 1) / page * page
    let mapped = mmap(
      nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    guard let mapped, mapped != MAP_FAILED else { return nil }
    self.entries = entries
    words = mapped.bindMemory(to: UInt64.self, capacity: bytes / 8)
  }

  deinit { munmap(words, bytes) }

  /// The host address of the table (what the JIT's code reads).
  var address: UInt64 { UInt64(UInt(bitPattern: words)) }

  /// Whether the page holding `key`'s words has been charged.
  func isCommitted(_ key: Int) -> Bool {
    touched.contains(key * Self.keyBytes / AddressSpace.pageSize)
  }

  /// Records the page holding `key`'s words as charged.
  func commit(_ key: Int) { touched.insert(key * Self.keyBytes / AddressSpace.pageSize) }

  /// Sets `key`'s words (``RedirectWords/none`` clears it). The second
  /// word is written first, so that a reader never sees a kind with the
  /// words of an entry that is not yet stored.
  func store(_ target: RedirectWords, at key: Int) {
    precondition(key < entries && isCommitted(key))
    words[2 * key] = 0
    words[2 * key + 1] = UInt64(target.key) | UInt64(target.value) << 32
    words[2 * key] = UInt64(target.kind) | UInt64(target.map) << 32
  }

  /// The words stored for `key`; ``RedirectWords/none`` when it has no
  /// entry or lies past `max_entries`.
  subscript(key: UInt32) -> RedirectWords {
    guard Int(key) < entries else { return .none }
    let (first, second) = (words[2 * Int(key)], words[2 * Int(key) + 1])
    return RedirectWords(
      kind: UInt32(truncatingIfNeeded: first), map: UInt32(truncatingIfNeeded: first >> 32),
      key: UInt32(truncatingIfNeeded: second), value: UInt32(truncatingIfNeeded: second >> 32))
  }
}

extension BPFMap {
  /// What a redirect through `key` leaves pending when this map, an
  /// array-indexed redirect map, stores `value` for it.
  func redirectWords(key: UInt32, value: [UInt8]) -> RedirectWords {
    switch definition.type {
    case .cpumap: return RedirectWords(.processor(map: index, cpu: key))
    case .xskmap: return RedirectWords(.socket(map: index, queue: key))
    default:
      // The interface: the value's first 4 bytes (zeros past a shorter one).
      let word = (value.prefix(4) + [0, 0, 0, 0]).prefix(4)
      let interface = word.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
      return RedirectWords(.device(map: index, key: key, interface: interface))
    }
  }
}
