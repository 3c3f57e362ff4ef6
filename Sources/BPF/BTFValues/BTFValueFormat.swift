/// Reads and writes typed values (map keys and values) by their BTF type:
/// bytes to a ``BTFValue`` for display, and the display syntax back to
/// bytes for an update. Without BTF, values are shown as `hex:` bytes and
/// read from `hex:` bytes or, for 1-, 2-, 4- and 8-byte values, from an
/// integer (little-endian, as the machine stores it).
public struct BTFValueFormat: Sendable {
  /// The types; `nil` when the map has none.
  public var btf: BTF?

  /// Formats with `btf`'s types (`nil`: hex only).
  public init(btf: BTF?) {
    self.btf = btf
  }

  /// A readable name for type `id`: `__u32 (unsigned 32-bit integer)`,
  /// `struct datarec`, `char[16]`.
  public func typeName(_ id: UInt32?, size: Int) -> String {
    guard let btf, let id, id != 0, let resolved = try? btf.skippingModifiers(id) else {
      return size <= 8 && [1, 2, 4, 8].contains(size)
        ? "\(size)-byte integer or hex:BYTES" : "hex:BYTES (\(size) bytes)"
    }
    let named = (try? btf.type(id))?.name ?? ""
    let type = resolved.type
    switch type.kind {
    case .integer:
      let integer = BTFInteger(type)
      let what = "\(integer.isSigned ? "signed" : "unsigned") \(integer.bits)-bit integer"
      let label = named.isEmpty ? type.name : named
      return label.isEmpty ? what : "\(label) (\(what))"
    case .structure: return "struct \(type.name.isEmpty ? "<anon>" : type.name)"
    case .union: return "union \(type.name.isEmpty ? "<anon>" : type.name)"
    case .enumeration, .enumeration64:
      return "enum \(type.name) (one of \(enumeratorNames(type).joined(separator: ", ")))"
    case .array:
      guard case .array(let element, _, let count) = type.detail else { return "array" }
      let elementSize = (try? btf.size(of: element)).map(Int.init) ?? 0
      return "\(typeName(element, size: elementSize))[\(count)]"
    case .pointer: return "pointer (unsigned 64-bit integer)"
    case .float: return "float (\(type.sizeOrType * 8)-bit)"
    default: return "\(type.kind) (hex:BYTES)"
    }
  }

  private func enumeratorNames(_ type: BTFType) -> [String] {
    guard case .enumerators(let values) = type.detail else { return [] }
    return values.map(\.name)
  }

  // MARK: Bytes to values

  /// `bytes` read as type `id` (`nil` or 0: raw bytes).
  public func decode(_ bytes: [UInt8], type id: UInt32?) -> BTFValue {
    guard let btf, let id, id != 0 else { return .bytes(bytes) }
    return (try? decode(ArraySlice(bytes), id: id, btf: btf, depth: 0)) ?? .bytes(bytes)
  }

  private func decode(_ bytes: ArraySlice<UInt8>, id: UInt32, btf: BTF, depth: Int)
    throws(BPFObjectError) -> BTFValue
  {
    guard depth < 32 else { return .bytes(Array(bytes)) }
    let type = try btf.skippingModifiers(id).type
    switch type.kind {
    case .integer:
      let integer = BTFInteger(type)
      guard integer.size <= 8, bytes.count >= integer.size else { return .bytes(Array(bytes)) }
      let raw = Self.littleEndian(bytes.prefix(integer.size))
      return integer.value(raw)
    case .pointer:
      guard bytes.count >= 8 else { return .bytes(Array(bytes)) }
      return .unsigned(Self.littleEndian(bytes.prefix(8)))
    case .enumeration, .enumeration64:
      let size = Int(type.sizeOrType)
      guard [1, 2, 4, 8].contains(size), bytes.count >= size else { return .bytes(Array(bytes)) }
      let raw = Self.littleEndian(bytes.prefix(size))
      let value =
        type.kindFlag ? Self.signExtend(raw, bits: size * 8) : Int64(bitPattern: raw)
      if case .enumerators(let values) = type.detail,
        let match = values.first(where: {
          UInt64(bitPattern: $0.value) & Self.mask(size * 8) == raw
        })
      {
        return .enumerator(name: match.name, value: value)
      }
      return type.kindFlag ? .signed(value) : .unsigned(raw)
    case .float:
      if type.sizeOrType == 8, bytes.count >= 8 {
        return .float(Double(bitPattern: Self.littleEndian(bytes.prefix(8))))
      }
      if type.sizeOrType == 4, bytes.count >= 4 {
        return .float(Double(Float(bitPattern: UInt32(Self.littleEndian(bytes.prefix(4))))))
      }
      return .bytes(Array(bytes))
    case .array:
      guard case .array(let element, _, let count) = type.detail else {
        return .bytes(Array(bytes))
      }
      let size = Int(try btf.size(of: element))
      guard size > 0, bytes.count >= size * Int(count) else { return .bytes(Array(bytes)) }
      let start = bytes.startIndex
      if isCharacter(element, btf: btf) {
        let characters = bytes[start..<start + Int(count)]
        let text = characters.prefix { $0 != 0 }
        if text.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }),
          characters.dropFirst(text.count).allSatisfy({ $0 == 0 })
        {
          return .text(String(decoding: text, as: UTF8.self))
        }
      }
      var elements: [BTFValue] = []
      for index in 0..<Int(count) {
        let from = start + index * size
        elements.append(
          try decode(bytes[from..<from + size], id: element, btf: btf, depth: depth + 1))
      }
      return .array(elements)
    case .structure, .union:
      guard bytes.count >= Int(type.sizeOrType) else { return .bytes(Array(bytes)) }
      var members: [BTFValue.Member] = []
      for member in type.members {
        let place = BTFMemberPlace(member, parent: type)
        let name = member.name.isEmpty ? "<anon>" : member.name
        let value: BTFValue
        if let bits = place.bitfieldBits {
          let memberType = try btf.skippingModifiers(member.type).type
          let raw = Self.readBits(bytes, offset: place.bitOffset, count: bits)
          if memberType.kind == .integer, BTFInteger(memberType).isSigned {
            value = .signed(Self.signExtend(raw, bits: bits))
          } else {
            value = .unsigned(raw)
          }
        } else {
          let size = Int(try btf.size(of: member.type))
          let from = bytes.startIndex + place.bitOffset / 8
          guard place.bitOffset % 8 == 0, from + size <= bytes.endIndex else { continue }
          value = try decode(bytes[from..<from + size], id: member.type, btf: btf, depth: depth + 1)
        }
        members.append(.init(name: name, value: value))
      }
      return .members(members)
    default:
      return .bytes(Array(bytes))
    }
  }

  func isCharacter(_ id: UInt32, btf: BTF) -> Bool {
    guard let type = try? btf.skippingModifiers(id).type, type.kind == .integer else {
      return false
    }
    let integer = BTFInteger(type)
    return integer.size == 1 && (integer.isCharacter || type.name == "char")
  }

  /// Little-endian bytes (at most 8) as an integer.
  public static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    var value: UInt64 = 0
    for byte in bytes.reversed() { value = value << 8 | UInt64(byte) }
    return value
  }

  static func mask(_ bits: Int) -> UInt64 { bits >= 64 ? .max : (1 << UInt64(bits)) - 1 }

  static func signExtend(_ raw: UInt64, bits: Int) -> Int64 {
    guard bits < 64, bits > 0 else { return Int64(bitPattern: raw) }
    let shift = UInt64(64 - bits)
    return Int64(bitPattern: raw << shift) >> Int64(shift)
  }

  static func readBits(_ bytes: ArraySlice<UInt8>, offset: Int, count: Int) -> UInt64 {
    var value: UInt64 = 0
    for bit in (0..<count).reversed() {
      let position = offset + bit
      let byte = bytes.startIndex + position / 8
      guard byte < bytes.endIndex else { continue }
      value = value << 1 | UInt64((bytes[byte] >> UInt8(position % 8)) & 1)
    }
    return value
  }
}

/// The encoding of a `BTF_KIND_INT`: size, bit width and flags.
struct BTFInteger {
  var size: Int
  var bits: Int
  var isSigned: Bool
  var isCharacter: Bool
  var isBoolean: Bool

  init(_ type: BTFType) {
    size = Int(type.sizeOrType)
    var encoding: UInt32 = 0
    if case .integer(let word) = type.detail { encoding = word }
    bits = Int(encoding & 0xff)
    let flags = (encoding >> 24) & 0x0f
    isSigned = flags & 1 != 0
    isCharacter = flags & 2 != 0
    isBoolean = flags & 4 != 0
    if bits == 0 { bits = size * 8 }
  }

  func value(_ raw: UInt64) -> BTFValue {
    let masked = raw & BTFValueFormat.mask(bits)
    if isBoolean { return .boolean(masked != 0) }
    if isSigned { return .signed(BTFValueFormat.signExtend(masked, bits: bits)) }
    return .unsigned(masked)
  }
}

/// Where a struct member lies: bit offset, and bitfield width if any.
struct BTFMemberPlace {
  var bitOffset: Int
  var bitfieldBits: Int?

  init(_ member: BTFType.Member, parent: BTFType) {
    if parent.kindFlag {
      bitOffset = Int(member.offset & 0xff_ffff)
      let size = Int(member.offset >> 24)
      bitfieldBits = size == 0 ? nil : size
    } else {
      bitOffset = Int(member.offset)
      bitfieldBits = nil
    }
  }
}
