/// Encodes BTF types back into the raw `.BTF` format (header, type
/// section, string section), the inverse of ``BTF``'s parser: what
/// ``ObjectWriter`` writes and what the loader hands to `BPF_BTF_LOAD`.
///
/// Names are interned once each; string offset 0 is the empty name.
public struct BTFEncoder: Sendable {
  /// The types, in id order: `types[0]` gets id 1.
  public var types: [BTFType]

  /// Starts from a list of types.
  public init(types: [BTFType] = []) {
    self.types = types
  }

  /// Appends a type and returns its id.
  @discardableResult
  public mutating func add(_ type: BTFType) -> UInt32 {
    types.append(type)
    return UInt32(types.count)
  }

  /// The section's bytes: the 24-byte header, then types, then strings.
  public func bytes() -> [UInt8] {
    var strings = BTFStringTable()
    var typeBytes: [UInt8] = []
    for type in types {
      let info =
        (type.kindFlag ? UInt32(1) << 31 : 0) | UInt32(type.kind.rawValue) << 24
        | UInt32(type.vlen & 0xffff)
      typeBytes += littleEndianBytes(strings.offset(of: type.name))
      typeBytes += littleEndianBytes(info)
      typeBytes += littleEndianBytes(type.sizeOrType)
      switch type.detail {
      case .none: break
      case .integer(let encoding): typeBytes += littleEndianBytes(encoding)
      case .array(let element, let index, let count):
        typeBytes +=
          littleEndianBytes(element) + littleEndianBytes(index) + littleEndianBytes(count)
      case .members(let members):
        for member in members {
          typeBytes += littleEndianBytes(strings.offset(of: member.name))
          typeBytes += littleEndianBytes(member.type) + littleEndianBytes(member.offset)
        }
      case .enumerators(let values):
        for value in values {
          typeBytes += littleEndianBytes(strings.offset(of: value.name))
          let bits = UInt64(bitPattern: value.value)
          typeBytes += littleEndianBytes(UInt32(truncatingIfNeeded: bits))
          if type.kind == .enumeration64 { typeBytes += littleEndianBytes(UInt32(bits >> 32)) }
        }
      case .parameters(let parameters):
        for parameter in parameters {
          typeBytes += littleEndianBytes(strings.offset(of: parameter.name))
          typeBytes += littleEndianBytes(parameter.type)
        }
      case .variable(let linkage): typeBytes += littleEndianBytes(linkage)
      case .sectionVariables(let variables):
        for variable in variables {
          typeBytes += littleEndianBytes(variable.type) + littleEndianBytes(variable.offset)
          typeBytes += littleEndianBytes(variable.size)
        }
      case .declarationTag(let component):
        typeBytes += littleEndianBytes(UInt32(bitPattern: component))
      }
    }
    var header: [UInt8] = littleEndianBytes(BTF.magic) + [1, 0]
    header += littleEndianBytes(UInt32(24))
    header += littleEndianBytes(UInt32(0)) + littleEndianBytes(UInt32(typeBytes.count))
    header += littleEndianBytes(UInt32(typeBytes.count))
    header += littleEndianBytes(UInt32(strings.bytes.count))
    return header + typeBytes + strings.bytes
  }
}

/// The string section of a BTF being written: NUL-terminated names,
/// each stored once.
struct BTFStringTable {
  private(set) var bytes: [UInt8] = [0]
  private var offsets: [String: UInt32] = ["": 0]

  /// The offset of `name`, adding it when new.
  mutating func offset(of name: String) -> UInt32 {
    if let known = offsets[name] { return known }
    let offset = UInt32(bytes.count)
    bytes += Array(name.utf8) + [0]
    offsets[name] = offset
    return offset
  }
}
