import BPF
import Kernel

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
  public static func of(_ map: KernelMap, object: String? = nil) -> MapTypes {
    let info = map.info
    if info.btfID != 0, info.valueTypeID != 0,
      let btf = KernelBTFObject.read(id: info.btfID)
    {
      return MapTypes(
        format: BTFValueFormat(btf: btf), keyType: info.keyTypeID == 0 ? nil : info.keyTypeID,
        valueType: info.valueTypeID, source: .kernel)
    }
    if let object, let types = fromObject(object, map: info) { return types }
    if info.name == CountersBTF.mapName, info.keySize == 4, info.valueSize == 16 {
      return CountersBTF.types
    }
    return .none
  }

  /// The key and value types of the `.maps` variable named like `map` in
  /// the object at `path`, when their sizes agree with the kernel's map.
  static func fromObject(_ path: String, map: MapInfo) -> MapTypes? {
    guard let object = try? BPFObject(contentsOf: path), let btf = object.btf else { return nil }
    for section in btf.types where section.kind == .dataSection && section.name == ".maps" {
      for variable in section.sectionVariables {
        guard let declared = try? btf.type(variable.type), declared.kind == .variable,
          MapInfo.kernelName(declared.name) == map.name,
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
