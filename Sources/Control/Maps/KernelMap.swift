import BPF
import CBPF
import Glibc

/// A BPF map living in the kernel, reached through its descriptor.
///
/// Keys and values travel as raw bytes: the map's definition says their
/// sizes. For per-CPU maps a lookup returns every CPU's copy; ``sum(_:)``
/// and ``lookupSummed(key:)`` add them for counters.
public struct KernelMap: Sendable {
  /// The open descriptor.
  public let descriptor: KernelDescriptor
  /// How the map was declared (name, type, sizes).
  public let definition: MapDefinition

  /// Wraps an open map descriptor with its definition.
  public init(descriptor: KernelDescriptor, definition: MapDefinition) {
    self.descriptor = descriptor
    self.definition = definition
  }

  /// Creates a map as `definition` declares it, and fills the single value
  /// of a global-data map with its initial contents.
  public static func create(_ definition: MapDefinition) throws(SystemCallError) -> KernelMap {
    var options = bpf_map_create_opts()
    options.sz = MemoryLayout<bpf_map_create_opts>.size
    options.map_flags = definition.flags
    let name = String(definition.name.prefix(Int(BPF_OBJ_NAME_LEN) - 1))
    let fd = try check("create map \"\(definition.name)\" (\(definition.type))") {
      bpf_map_create(
        bpf_map_type(definition.type.rawValue), name, definition.keySize, definition.valueSize,
        definition.maxEntries, &options)
    }
    let map = KernelMap(descriptor: KernelDescriptor(owning: fd), definition: definition)
    if let initial = definition.initialValue {
      try map.update(key: [UInt8](repeating: 0, count: Int(definition.keySize)), value: initial)
    }
    return map
  }

  /// Opens the map pinned at `path`, which must match `definition`.
  public static func open(pinnedAt path: String, as definition: MapDefinition)
    throws(SystemCallError) -> KernelMap
  {
    let fd = try check("open pinned map \(path)") { bpf_obj_get(path) }
    let map = KernelMap(descriptor: KernelDescriptor(owning: fd), definition: definition)
    let info = try map.info()
    guard info.type == definition.type.rawValue, info.key_size == definition.keySize,
      info.value_size == definition.valueSize, info.max_entries == definition.maxEntries
    else {
      throw SystemCallError(
        "pinned map \(path) does not have the layout of \"\(definition.name)\"", code: EINVAL)
    }
    return map
  }

  /// Pins the map at `path` on a bpf filesystem.
  public func pin(at path: String) throws(SystemCallError) {
    try check("pin map \"\(definition.name)\" at \(path)") {
      bpf_obj_pin(descriptor.rawValue, path)
    }
  }

  /// The kernel's id of this map.
  public var id: UInt32 { (try? info().id) ?? 0 }

  /// The kernel's `bpf_map_info` for this map.
  public func info() throws(SystemCallError) -> bpf_map_info {
    var info = bpf_map_info()
    var length = UInt32(MemoryLayout<bpf_map_info>.size)
    try check("read info of map \"\(definition.name)\"") {
      bpf_obj_get_info_by_fd(descriptor.rawValue, &info, &length)
    }
    return info
  }

  /// Bytes one CPU's copy of a value occupies in a per-CPU lookup.
  var perCPUStride: Int { (Int(definition.valueSize) + 7) / 8 * 8 }

  /// How many values a lookup returns: one, or one per possible CPU.
  public var copies: Int { definition.type.isPerCPU ? Self.possibleCPUs : 1 }

  /// The number of possible CPUs, as per-CPU maps size their values.
  public static var possibleCPUs: Int { max(1, Int(libbpf_num_possible_cpus())) }

  /// The value under `key`: every CPU's copy for per-CPU maps, in CPU
  /// order, else a single element. `nil` when the key is absent.
  public func lookup(key: [UInt8]) throws(SystemCallError) -> [[UInt8]]? {
    let stride = definition.type.isPerCPU ? perCPUStride : Int(definition.valueSize)
    var buffer = [UInt8](repeating: 0, count: stride * copies)
    errno = 0
    let result = key.withUnsafeBytes { keyBytes in
      buffer.withUnsafeMutableBytes { valueBytes in
        bpf_map_lookup_elem(descriptor.rawValue, keyBytes.baseAddress, valueBytes.baseAddress)
      }
    }
    if result < 0 {
      if errno == ENOENT { return nil }
      throw SystemCallError("look up in map \"\(definition.name)\"", code: errno)
    }
    return (0..<copies).map { cpu in
      Array(buffer[cpu * stride..<cpu * stride + Int(definition.valueSize)])
    }
  }

  /// Stores `value` under `key`; for a per-CPU map the same value goes to
  /// every CPU.
  public func update(key: [UInt8], value: [UInt8]) throws(SystemCallError) {
    guard value.count == Int(definition.valueSize), key.count == Int(definition.keySize) else {
      throw SystemCallError(
        "update map \"\(definition.name)\" with a \(key.count)-byte key and \(value.count)-byte value",
        code: EINVAL)
    }
    var buffer: [UInt8]
    if definition.type.isPerCPU {
      let padded = value + [UInt8](repeating: 0, count: perCPUStride - value.count)
      buffer = Array([[UInt8]](repeating: padded, count: copies).joined())
    } else {
      buffer = value
    }
    try check("update map \"\(definition.name)\"") {
      key.withUnsafeBytes { keyBytes in
        buffer.withUnsafeMutableBytes { valueBytes in
          bpf_map_update_elem(
            descriptor.rawValue, keyBytes.baseAddress, valueBytes.baseAddress, UInt64(BPF_ANY))
        }
      }
    }
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
}

extension UInt32 {
  /// The four little-endian bytes, as map keys are written.
  var littleEndianBytes: [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: self >> ($0 * 8)) } }
}
