import BPF
import CBPF
import Glibc

/// Any BPF map in the kernel, opened by id or pin, for reading and
/// changing its entries as raw bytes; what `maps` and `map dump/update/
/// delete` work on, whoever created the map.
public struct InspectedMap: Sendable {
  /// The open descriptor.
  public let descriptor: KernelDescriptor
  /// What the kernel says about the map.
  public let summary: MapSummary

  /// Opens the map with kernel id `id`.
  public static func open(id: UInt32) throws(SystemCallError) -> InspectedMap {
    let fd = try check("open map id \(id)") { bpf_map_get_fd_by_id(id) }
    let descriptor = KernelDescriptor(owning: fd)
    return InspectedMap(descriptor: descriptor, summary: try MapSummary(descriptor))
  }

  /// Opens the map pinned at `path`.
  public static func open(pinnedAt path: String) throws(SystemCallError) -> InspectedMap {
    let fd = try check("open pinned map \(path)") { bpf_obj_get(path) }
    let descriptor = KernelDescriptor(owning: fd)
    return InspectedMap(descriptor: descriptor, summary: try MapSummary(descriptor))
  }

  /// How many copies a lookup returns: one per possible CPU for per-CPU maps.
  public var copies: Int { summary.isPerCPU ? Self.possibleCPUs : 1 }

  /// The number of possible CPUs, as per-CPU maps size their values.
  public static var possibleCPUs: Int { max(1, Int(libbpf_num_possible_cpus())) }

  private var stride: Int {
    summary.isPerCPU ? (Int(summary.valueSize) + 7) / 8 * 8 : Int(summary.valueSize)
  }

  /// Every key, in the kernel's iteration order (`bpf_map_get_next_key`),
  /// at most `limit`.
  public func keys(limit: Int = 1 << 20) throws(SystemCallError) -> [[UInt8]] {
    var keys: [[UInt8]] = []
    var current: [UInt8]? = nil
    var next = [UInt8](repeating: 0, count: Int(summary.keySize))
    while keys.count < limit {
      errno = 0
      let result = next.withUnsafeMutableBytes { nextBytes in
        if let current {
          return current.withUnsafeBytes {
            bpf_map_get_next_key(descriptor.rawValue, $0.baseAddress, nextBytes.baseAddress)
          }
        }
        return bpf_map_get_next_key(descriptor.rawValue, nil, nextBytes.baseAddress)
      }
      if result < 0 {
        if errno == ENOENT { break }
        throw SystemCallError("list the keys of map \"\(summary.name)\"", code: errno)
      }
      keys.append(next)
      current = next
    }
    return keys
  }

  /// The value under `key`: one copy, or one per CPU in CPU order; `nil`
  /// when absent.
  public func lookup(key: [UInt8]) throws(SystemCallError) -> [[UInt8]]? {
    var buffer = [UInt8](repeating: 0, count: stride * copies)
    errno = 0
    let result = key.withUnsafeBytes { keyBytes in
      buffer.withUnsafeMutableBytes { valueBytes in
        bpf_map_lookup_elem(descriptor.rawValue, keyBytes.baseAddress, valueBytes.baseAddress)
      }
    }
    if result < 0 {
      if errno == ENOENT { return nil }
      throw SystemCallError("look up in map \"\(summary.name)\"", code: errno)
    }
    return (0..<copies).map { cpu in
      Array(buffer[cpu * stride..<cpu * stride + Int(summary.valueSize)])
    }
  }

  /// Stores `value` under `key` (for a per-CPU map, on every CPU).
  public func update(key: [UInt8], value: [UInt8]) throws(SystemCallError) {
    var buffer = value
    if summary.isPerCPU {
      let padded = value + [UInt8](repeating: 0, count: stride - value.count)
      buffer = Array([[UInt8]](repeating: padded, count: copies).joined())
    }
    try check("update map \"\(summary.name)\"") {
      key.withUnsafeBytes { keyBytes in
        buffer.withUnsafeMutableBytes { valueBytes in
          bpf_map_update_elem(
            descriptor.rawValue, keyBytes.baseAddress, valueBytes.baseAddress, UInt64(BPF_ANY))
        }
      }
    }
  }

  /// Removes `key`. Returns `false` when it was not there.
  @discardableResult
  public func delete(key: [UInt8]) throws(SystemCallError) -> Bool {
    errno = 0
    let result = key.withUnsafeBytes { bpf_map_delete_elem(descriptor.rawValue, $0.baseAddress) }
    if result < 0 {
      if errno == ENOENT { return false }
      throw SystemCallError("delete from map \"\(summary.name)\"", code: errno)
    }
    return true
  }
}

/// What `bpf_map_info` says about a map.
public struct MapSummary: Hashable, Sendable, Encodable {
  /// The kernel id.
  public var id: UInt32
  /// The name (15 characters at most).
  public var name: String
  /// `enum bpf_map_type`.
  public var type: MapType
  /// Key size in bytes.
  public var keySize: UInt32
  /// Value size in bytes.
  public var valueSize: UInt32
  /// Capacity.
  public var maxEntries: UInt32
  /// `map_flags`.
  public var flags: UInt32
  /// The map's BTF object id (0: none).
  public var btfID: UInt32
  /// The key's type id in that BTF (0: none).
  public var keyTypeID: UInt32
  /// The value's type id in that BTF (0: none).
  public var valueTypeID: UInt32

  /// Whether lookups return one value per CPU.
  public var isPerCPU: Bool { type.isPerCPU }

  init(_ descriptor: KernelDescriptor) throws(SystemCallError) {
    var info = bpf_map_info()
    var length = UInt32(MemoryLayout<bpf_map_info>.size)
    try check("read map info") { bpf_obj_get_info_by_fd(descriptor.rawValue, &info, &length) }
    id = info.id
    name = withUnsafeBytes(of: info.name) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    type = MapType(rawValue: info.type)
    keySize = info.key_size
    valueSize = info.value_size
    maxEntries = info.max_entries
    flags = info.map_flags
    btfID = info.btf_id
    keyTypeID = info.btf_key_type_id
    valueTypeID = info.btf_value_type_id
  }

  enum CodingKeys: String, CodingKey {
    case id, name, type, flags
    case keySize = "key_size"
    case valueSize = "value_size"
    case maxEntries = "max_entries"
    case btfID = "btf_id"
  }

  /// JSON: `{"id", "name", "type" (bpftool's name), "key_size",
  /// "value_size", "max_entries", "flags", "btf_id"}`.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(id, forKey: .id)
    try container.encode(name, forKey: .name)
    try container.encode(type.description, forKey: .type)
    try container.encode(keySize, forKey: .keySize)
    try container.encode(valueSize, forKey: .valueSize)
    try container.encode(maxEntries, forKey: .maxEntries)
    try container.encode(flags, forKey: .flags)
    try container.encode(btfID, forKey: .btfID)
  }
}
