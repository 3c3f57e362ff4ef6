import BPF
import CBPF
import Glibc

/// A BPF map living in the kernel, reached through its descriptor: one
/// xdpbatch made from a ``BPF/MapDefinition`` (the spec), or any map
/// opened by id or pin, whoever made it.
///
/// Keys and values travel as raw bytes; ``info`` says their sizes. For
/// per-CPU maps a lookup returns every CPU's copy; ``sum(_:)`` and
/// ``lookupSummed(key:)`` add them for counters.
public struct KernelMap: Sendable {
  /// The open descriptor.
  public let descriptor: KernelDescriptor
  /// What the kernel says about the map (read when it was opened).
  public let info: MapInfo

  /// Wraps an open map descriptor, reading what the kernel says about it.
  public init(descriptor: KernelDescriptor) throws(SystemCallError) {
    self.descriptor = descriptor
    info = try MapInfo(descriptor)
  }

  /// Creates a map as `definition` declares it, and fills the single value
  /// of a global-data map with its initial contents.
  /// With `types` (a loaded BTF object and the key's and value's type
  /// ids in it), the map is created with them, as libbpf does, so that
  /// `bpftool map dump` prints typed entries; a kernel that refuses them
  /// for this map gets the map without, as libbpf retries.
  public static func create(
    _ definition: MapDefinition,
    types: (btf: KernelDescriptor, key: UInt32, value: UInt32)? = nil
  ) throws(SystemCallError) -> KernelMap {
    if let types, let map = try? create(definition, typedBy: types) { return map }
    return try create(definition, typedBy: nil)
  }

  private static func create(
    _ definition: MapDefinition, typedBy types: (btf: KernelDescriptor, key: UInt32, value: UInt32)?
  ) throws(SystemCallError) -> KernelMap {
    let name = String(definition.name.prefix(Int(BPF_OBJ_NAME_LEN) - 1))
    let fd = try ZeroedStorage.options(bpf_map_create_opts.self) {
      (options) throws(SystemCallError) in
      options.pointee.map_flags = definition.flags
      if let types {
        options.pointee.btf_fd = UInt32(types.btf.rawValue)
        options.pointee.btf_key_type_id = types.key
        options.pointee.btf_value_type_id = types.value
      }
      return try check("create map \"\(definition.name)\" (\(definition.type))") {
        bpf_map_create(
          bpf_map_type(definition.type.rawValue), name, definition.keySize,
          definition.valueSize, definition.maxEntries, options)
      }
    }
    let map = try KernelMap(descriptor: KernelDescriptor(owning: fd))
    if let initial = definition.initialValue {
      try map.update(key: [UInt8](repeating: 0, count: Int(definition.keySize)), value: initial)
    }
    return map
  }

  /// Opens the map with kernel id `id`.
  public static func open(id: UInt32) throws(SystemCallError) -> KernelMap {
    let fd = try check("open map id \(id)") { bpf_map_get_fd_by_id(id) }
    return try KernelMap(descriptor: KernelDescriptor(owning: fd))
  }

  /// Opens the map pinned at `path`.
  public static func open(pinnedAt path: String) throws(SystemCallError) -> KernelMap {
    let fd = try check("open pinned map \(path)") { bpf_obj_get(path) }
    return try KernelMap(descriptor: KernelDescriptor(owning: fd))
  }

  /// Opens the map pinned at `path`, which must have `definition`'s
  /// layout (type, key and value size, entries): `EINVAL` otherwise.
  public static func open(pinnedAt path: String, as definition: MapDefinition)
    throws(SystemCallError) -> KernelMap
  {
    let map = try open(pinnedAt: path)
    guard map.info.matches(definition) else {
      throw SystemCallError(
        "pinned map \(path) does not have the layout of \"\(definition.name)\"", errno: .invalid)
    }
    return map
  }

  /// Pins the map at `path` on a bpf filesystem.
  public func pin(at path: String) throws(SystemCallError) {
    try check("pin map \"\(info.name)\" at \(path)") { bpf_obj_pin(descriptor.rawValue, path) }
  }

  /// The kernel's id of this map.
  public var id: UInt32 { info.id }

  /// Bytes one CPU's copy of a value occupies in a per-CPU lookup.
  var perCPUStride: Int { (Int(info.valueSize) + 7) / 8 * 8 }

  /// Bytes a value occupies in a lookup buffer, per copy.
  var valueStride: Int { info.isPerCPU ? perCPUStride : Int(info.valueSize) }

  /// How many values a lookup returns: one, or one per possible CPU.
  public var copies: Int { info.isPerCPU ? Self.possibleCPUs : 1 }

  /// The number of possible CPUs, as per-CPU maps size their values.
  public static var possibleCPUs: Int { max(1, Int(libbpf_num_possible_cpus())) }

  /// The value under `key`: every CPU's copy for per-CPU maps, in CPU
  /// order, else a single element. `nil` when the key is absent.
  public func lookup(key: [UInt8]) throws(SystemCallError) -> [[UInt8]]? {
    let stride = valueStride
    var buffer = [UInt8](repeating: 0, count: stride * copies)
    do {
      try check("look up in map \"\(info.name)\"") {
        key.withUnsafeBytes { keyBytes in
          buffer.withUnsafeMutableBytes { valueBytes in
            bpf_map_lookup_elem(descriptor.rawValue, keyBytes.baseAddress, valueBytes.baseAddress)
          }
        }
      }
    } catch  where error.errno == .notFound {
      return nil
    }
    return split(buffer[...])
  }

  /// The copies in one value's lookup buffer (every CPU's for per-CPU maps).
  func split(_ buffer: ArraySlice<UInt8>) -> [[UInt8]] {
    let stride = valueStride
    let base = buffer.startIndex
    return (0..<copies).map { cpu in
      Array(buffer[base + cpu * stride..<base + cpu * stride + Int(info.valueSize)])
    }
  }

  /// One value as a lookup buffer: for a per-CPU map the same value on
  /// every CPU.
  func buffer(for value: [UInt8]) -> [UInt8] {
    guard info.isPerCPU else { return value }
    let padded = value + [UInt8](repeating: 0, count: perCPUStride - value.count)
    return Array([[UInt8]](repeating: padded, count: copies).joined())
  }

  /// Stores `value` under `key` (`flags`: `BPF_ANY`, `BPF_NOEXIST`,
  /// `BPF_EXIST`); for a per-CPU map the same value goes to every CPU.
  public func update(key: [UInt8], value: [UInt8], flags: UInt64 = UInt64(BPF_ANY))
    throws(SystemCallError)
  {
    guard value.count == Int(info.valueSize), key.count == Int(info.keySize) else {
      throw SystemCallError(
        "update map \"\(info.name)\" with a \(key.count)-byte key and \(value.count)-byte value",
        errno: .invalid)
    }
    var buffer = buffer(for: value)
    try check("update map \"\(info.name)\"") {
      key.withUnsafeBytes { keyBytes in
        buffer.withUnsafeMutableBytes { valueBytes in
          bpf_map_update_elem(
            descriptor.rawValue, keyBytes.baseAddress, valueBytes.baseAddress, flags)
        }
      }
    }
  }

  /// Stores one value per CPU under `key` of a per-CPU map (`copies[i]`
  /// for CPU i, as bpftool takes them); `copies.count` is ``copies``.
  public func update(key: [UInt8], copies values: [[UInt8]], flags: UInt64 = UInt64(BPF_ANY))
    throws(SystemCallError)
  {
    guard info.isPerCPU, values.count == copies, key.count == Int(info.keySize),
      values.allSatisfy({ $0.count == Int(info.valueSize) })
    else {
      throw SystemCallError(
        "update map \"\(info.name)\" with \(values.count) values for \(copies) copies",
        errno: .invalid)
    }
    var buffer = Array(
      values.map { $0 + [UInt8](repeating: 0, count: perCPUStride - $0.count) }.joined())
    try check("update map \"\(info.name)\"") {
      key.withUnsafeBytes { keyBytes in
        buffer.withUnsafeMutableBytes { valueBytes in
          bpf_map_update_elem(
            descriptor.rawValue, keyBytes.baseAddress, valueBytes.baseAddress, flags)
        }
      }
    }
  }

  /// Removes `key`. Returns `false` when it was not there.
  @discardableResult
  public func delete(key: [UInt8]) throws(SystemCallError) -> Bool {
    do {
      try check("delete from map \"\(info.name)\"") {
        key.withUnsafeBytes { bpf_map_delete_elem(descriptor.rawValue, $0.baseAddress) }
      }
    } catch  where error.errno == .notFound {
      return false
    }
    return true
  }

  /// The value under `key` read as little-endian `UInt64` words, added over
  /// all CPUs (wrapping, as the kernel's counters do). `nil` when absent.
  public func lookupSummed(key: [UInt8]) throws(SystemCallError) -> [UInt64]? {
    guard let copies = try lookup(key: key) else { return nil }
    return Self.sum(copies)
  }

  /// Adds per-CPU copies of a value word by word (little-endian `UInt64`s,
  /// wrapping on overflow).
  public static func sum(_ copies: [[UInt8]]) -> [UInt64] {
    let words = (copies.first?.count ?? 0) / 8
    var totals = [UInt64](repeating: 0, count: words)
    for copy in copies {
      for word in 0..<words {
        var value: UInt64 = 0
        for byte in (0..<8).reversed() { value = value << 8 | UInt64(copy[word * 8 + byte]) }
        totals[word] &+= value
      }
    }
    return totals
  }

  /// The four little-endian bytes of `value`, as array-like maps' keys
  /// (and 32-bit values) are written.
  public static func key(_ value: UInt32) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
  }
}
