/// A value read from memory and typed by BTF, as `bpftool map dump` shows
/// map keys and values: integers, enumerators, character strings, arrays,
/// structs and unions by member, raw bytes where no type is known.
///
/// ``description`` prints the syntax that ``BTFValueFormat/encode(_:type:size:)``
/// reads back, so what `map dump` prints can be given to `map update`.
public indirect enum BTFValue: Hashable, Sendable {
  /// An unsigned integer (also pointers and bools read as numbers).
  case unsigned(UInt64)
  /// A signed integer.
  case signed(Int64)
  /// A boolean (`_Bool`).
  case boolean(Bool)
  /// An enumerator, by name (and its value).
  case enumerator(name: String, value: Int64)
  /// A `char` array up to its first NUL.
  case text(String)
  /// A floating-point number.
  case float(Double)
  /// The elements of an array.
  case array([BTFValue])
  /// The members of a struct or union, in declaration order.
  case members([Member])
  /// Bytes without a type (no BTF, or a type this reader does not show),
  /// in memory order.
  case bytes([UInt8])

  /// One named member of a struct or union.
  public struct Member: Hashable, Sendable {
    /// The member name (`<anon>` for anonymous members).
    public var name: String
    /// Its value.
    public var value: BTFValue

    /// Names a member value.
    public init(name: String, value: BTFValue) {
      self.name = name
      self.value = value
    }
  }

  /// The member named `name`, when this is a struct or union.
  public subscript(member name: String) -> BTFValue? {
    guard case .members(let members) = self else { return nil }
    return members.first { $0.name == name }?.value
  }

  /// The value as an unsigned integer, when it is an integer or enumerator.
  public var unsignedValue: UInt64? {
    switch self {
    case .unsigned(let value): value
    case .signed(let value): UInt64(bitPattern: value)
    case .boolean(let value): value ? 1 : 0
    case .enumerator(_, let value): UInt64(bitPattern: value)
    default: nil
    }
  }

  /// Bytes as `hex:` followed by two lowercase digits a byte.
  static func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var text = "hex:"
    for byte in bytes {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0xf)])
    }
    return text
  }

  /// `text` quoted with the escapes the syntax reads back.
  static func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": result += "\\\""
      case "\\": result += "\\\\"
      case "\n": result += "\\n"
      case "\t": result += "\\t"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7f {
          let code = String(scalar.value, radix: 16)
          result += "\\x" + (code.count < 2 ? "0" + code : code)
        } else {
          result.unicodeScalars.append(scalar)
        }
      }
    }
    return result + "\""
  }
}

extension BTFValue: CustomStringConvertible {
  /// The value in the `map update` syntax: `{packets: 1, bytes: 64}`,
  /// `[1, 2]`, `"eth0"`, `XDP_PASS`, `hex:0a0b`.
  public var description: String {
    switch self {
    case .unsigned(let value): String(value)
    case .signed(let value): String(value)
    case .boolean(let value): value ? "true" : "false"
    case .enumerator(let name, _): name
    case .text(let text): Self.quoted(text)
    case .float(let value): String(value)
    case .array(let elements): "[" + elements.map(\.description).joined(separator: ", ") + "]"
    case .members(let members):
      "{" + members.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "}"
    case .bytes(let bytes): Self.hex(bytes)
    }
  }
}

extension BTFValue: Encodable {
  /// JSON: numbers for integers, strings for enumerators, text and
  /// `hex:` bytes, arrays, and objects for structs and unions.
  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .unsigned(let value):
      var container = encoder.singleValueContainer()
      try container.encode(value)
    case .signed(let value):
      var container = encoder.singleValueContainer()
      try container.encode(value)
    case .boolean(let value):
      var container = encoder.singleValueContainer()
      try container.encode(value)
    case .enumerator(let name, _):
      var container = encoder.singleValueContainer()
      try container.encode(name)
    case .text(let text):
      var container = encoder.singleValueContainer()
      try container.encode(text)
    case .float(let value):
      var container = encoder.singleValueContainer()
      try container.encode(value)
    case .array(let elements):
      var container = encoder.unkeyedContainer()
      for element in elements { try container.encode(element) }
    case .members(let members):
      var container = encoder.container(keyedBy: MemberKey.self)
      for member in members { try container.encode(member.value, forKey: MemberKey(member.name)) }
    case .bytes(let bytes):
      var container = encoder.singleValueContainer()
      try container.encode(Self.hex(bytes))
    }
  }

  /// A struct member's name as a JSON key.
  struct MemberKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }
}
