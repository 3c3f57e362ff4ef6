import BPF
import CBPF
import Glibc

/// The BTF types of one map's keys and values, and where they came from:
/// the kernel (the map was created with BTF, as libbpf and `ip` do), the
/// object file xdpbatch attached (its `.maps` declaration), the layout of
/// xdpbatch's own action counters, or nowhere (shown as hex).
public struct MapTypes: Sendable {
  /// Where the types were found.
  public enum Source: String, Sendable, Encodable {
    /// `bpf_map_info.btf_id`, read from the kernel.
    case kernel
    /// The `.maps` declaration in the attached object file.
    case object
    /// The action counters' known layout (`xdp_stats_map`).
    case counters
    /// No types: keys and values are hex.
    case none
  }

  /// Reads and writes values with the types.
  public var format: BTFValueFormat
  /// The key's type id (`nil`: hex).
  public var keyType: UInt32?
  /// The value's type id (`nil`: hex).
  public var valueType: UInt32?
  /// Where they came from.
  public var source: Source

  /// Keys and values as hex.
  public static let none = MapTypes(
    format: BTFValueFormat(btf: nil), keyType: nil, valueType: nil, source: .none)

  /// The types of `map`: from the kernel if it has them, else from
  /// `object` (the file xdpbatch attached on the map's interface), else
  /// the counters' layout when the map is xdpbatch's counters, else none.
  public static func of(_ map: InspectedMap, object: String? = nil) -> MapTypes {
    let summary = map.summary
    if summary.btfID != 0, summary.valueTypeID != 0, let btf = kernelBTF(id: summary.btfID) {
      return MapTypes(
        format: BTFValueFormat(btf: btf), keyType: summary.keyTypeID == 0 ? nil : summary.keyTypeID,
        valueType: summary.valueTypeID, source: .kernel)
    }
    if let object, let types = fromObject(object, map: summary) { return types }
    if summary.name == CountersBTF.mapName, summary.keySize == 4, summary.valueSize == 16 {
      return CountersBTF.types
    }
    return .none
  }

  /// The BTF object `id` from the kernel (`btf__load_from_kernel_by_id`),
  /// parsed by the project's reader.
  public static func kernelBTF(id: UInt32) -> BTF? {
    guard let handle = btf__load_from_kernel_by_id(id) else { return nil }
    defer { btf__free(handle) }
    var size: UInt32 = 0
    guard let raw = btf__raw_data(handle, &size) else { return nil }
    let bytes = Array(UnsafeRawBufferPointer(start: raw, count: Int(size)))
    return try? BTF(bytes: bytes, name: "BTF object \(id)")
  }

  /// The key and value types of the `.maps` variable named like `map` in
  /// the object at `path`, when their sizes agree with the kernel's map.
  static func fromObject(_ path: String, map: MapSummary) -> MapTypes? {
    guard let object = try? BPFObject(contentsOf: path), let btf = object.btf else { return nil }
    for section in btf.types where section.kind == .dataSection && section.name == ".maps" {
      for variable in section.sectionVariables {
        guard let declared = try? btf.type(variable.type), declared.kind == .variable,
          String(declared.name.prefix(Int(BPF_OBJ_NAME_LEN) - 1)) == map.name,
          let definition = try? btf.skippingModifiers(declared.sizeOrType).type
        else { continue }
        func pointee(_ member: String) -> UInt32? {
          guard let field = definition.members.first(where: { $0.name == member }),
            let pointer = try? btf.skippingModifiers(field.type).type, pointer.kind == .pointer
          else { return nil }
          return pointer.sizeOrType
        }
        let key = pointee("key")
        let value = pointee("value")
        let keyFits = key.map { (try? btf.size(of: $0)) == UInt64(map.keySize) } ?? true
        let valueFits = value.map { (try? btf.size(of: $0)) == UInt64(map.valueSize) } ?? true
        guard keyFits, valueFits, key != nil || value != nil else { return nil }
        return MapTypes(
          format: BTFValueFormat(btf: btf), keyType: key, valueType: value, source: .object)
      }
    }
    return nil
  }
}
