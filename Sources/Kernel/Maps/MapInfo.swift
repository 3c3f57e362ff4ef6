import BPF
import CBPF
import Glibc

/// What `bpf_map_info` says about a live map.
public struct MapInfo: Hashable, Sendable, Encodable {
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

  /// Reads the information of the map behind `descriptor`.
  init(_ descriptor: KernelDescriptor) throws(SystemCallError) {
    let info = try ObjectInfo.read(bpf_map_info.self, of: descriptor, "read map info")
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

  /// The spec of this map: what would create one like it.
  public var definition: MapDefinition {
    MapDefinition(
      name: name, type: type, keySize: keySize, valueSize: valueSize, maxEntries: maxEntries,
      flags: flags)
  }

  /// Whether the map has `definition`'s layout: type, key and value
  /// size, entries.
  public func matches(_ definition: MapDefinition) -> Bool {
    type == definition.type && keySize == definition.keySize
      && valueSize == definition.valueSize && maxEntries == definition.maxEntries
  }

  /// Whether the map is what `definition` declares: its name as the
  /// kernel keeps it (15 characters) and its layout.
  public func isDeclared(by definition: MapDefinition) -> Bool {
    name == Self.kernelName(definition.name) && matches(definition)
  }

  /// The name the kernel keeps of `name`: its first 15 characters.
  public static func kernelName(_ name: String) -> String {
    String(name.prefix(Int(BPF_OBJ_NAME_LEN) - 1))
  }

  private enum CodingKeys: String, CodingKey {
    case id, name, type, keySize, valueSize, maxEntries, flags, btfID
  }

  /// JSON: `{"id", "name", "type" (bpftool's name), "key_size",
  /// "value_size", "max_entries", "flags", "btf_id"}` (snake_case keys).
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
