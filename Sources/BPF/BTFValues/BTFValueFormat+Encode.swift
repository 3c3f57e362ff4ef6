extension BTFValueFormat {
  /// `text` written as a value of type `id` and `size` bytes, for a map
  /// update. `field` names the value in errors (`key`, `value`).
  ///
  /// `hex:BYTES` is always accepted (memory order, exactly `size` bytes);
  /// without BTF, so is an integer for 1-, 2-, 4- and 8-byte values.
  /// Struct members left out are zero; an unknown member is an error
  /// listing the members.
  public func encode(_ text: String, type id: UInt32?, size: Int, field: String)
    throws(BTFValueError) -> [UInt8]
  {
    let syntax = try BTFValueSyntax.parse(text)
    if case .word(let word) = syntax, word.hasPrefix("hex:") {
      return try Self.hexBytes(word, size: size, field: field)
    }
    guard let btf, let id, id != 0 else {
      guard [1, 2, 4, 8].contains(size), case .word(let word) = syntax,
        let number = Self.integer(word), number.fits(bits: size * 8, signed: false)
      else {
        throw .mismatch(field: field, expected: typeName(nil, size: size), found: syntax.shown)
      }
      return Self.bytes(number.bits, count: size)
    }
    var bytes = [UInt8](repeating: 0, count: size)
    try write(syntax, id: id, btf: btf, into: &bytes, at: 0, field: field)
    return bytes
  }

  private func write(
    _ syntax: BTFValueSyntax, id: UInt32, btf: BTF, into bytes: inout [UInt8], at offset: Int,
    field: String
  ) throws(BTFValueError) {
    let size = Int((try? btf.size(of: id)) ?? 0)
    func mismatch() -> BTFValueError {
      .mismatch(field: field, expected: typeName(id, size: size), found: syntax.shown)
    }
    if case .word(let word) = syntax, word.hasPrefix("hex:") {
      let raw = try Self.hexBytes(word, size: size, field: field)
      bytes.replaceSubrange(offset..<offset + size, with: raw)
      return
    }
    guard let type = try? btf.skippingModifiers(id).type else { throw mismatch() }
    switch type.kind {
    case .integer, .pointer, .enumeration, .enumeration64:
      let integer = type.kind == .integer ? BTFInteger(type) : nil
      let signed = integer?.isSigned ?? (type.kind != .pointer && type.kindFlag)
      let bits = integer?.bits ?? size * 8
      let number: Self.Number
      switch syntax {
      case .word(let word):
        if let parsed = Self.integer(word) {
          number = parsed
        } else if word == "true" || word == "false", integer?.isBoolean ?? false {
          number = Self.Number(bits: word == "true" ? 1 : 0, negative: false)
        } else if case .enumerators(let values) = type.detail,
          let match = values.first(where: { $0.name == word })
        {
          number = Self.Number(bits: UInt64(bitPattern: match.value), negative: match.value < 0)
        } else {
          throw mismatch()
        }
      case .string(let text) where integer?.isCharacter == true && text.utf8.count == 1:
        number = Self.Number(bits: UInt64(text.utf8.first!), negative: false)
      default: throw mismatch()
      }
      guard number.fits(bits: bits, signed: signed) else { throw mismatch() }
      bytes.replaceSubrange(offset..<offset + size, with: Self.bytes(number.bits, count: size))
    case .array:
      guard case .array(let element, _, let count) = type.detail else { throw mismatch() }
      let elementSize = Int((try? btf.size(of: element)) ?? 0)
      switch syntax {
      case .string(let text) where isCharacter(element, btf: btf):
        let utf8 = Array(text.utf8)
        guard utf8.count <= Int(count) else { throw mismatch() }
        bytes.replaceSubrange(offset..<offset + utf8.count, with: utf8)
      case .list(let elements):
        guard elements.count <= Int(count) else {
          throw .mismatch(
            field: field, expected: typeName(id, size: size),
            found: "\(elements.count) elements")
        }
        for (index, element) in elements.enumerated() {
          try write(
            element, id: type.detail.arrayElement ?? 0, btf: btf, into: &bytes,
            at: offset + index * elementSize, field: "\(field)[\(index)]")
        }
      default: throw mismatch()
      }
    case .structure, .union:
      guard case .object(let given) = syntax else { throw mismatch() }
      for (name, value) in given {
        guard let member = type.members.first(where: { $0.name == name }) else {
          let names = type.members.map(\.name).filter { !$0.isEmpty }
          throw .mismatch(
            field: "\(field).\(name)",
            expected: "a member of \(typeName(id, size: size)) (\(names.joined(separator: ", ")))",
            found: "an unknown member")
        }
        let place = BTFMemberPlace(member, parent: type)
        let memberField = "\(field).\(name)"
        if let bits = place.bitfieldBits {
          guard case .word(let word) = value, let number = Self.integer(word),
            number.fits(bits: bits, signed: true) || number.fits(bits: bits, signed: false)
          else {
            throw .mismatch(
              field: memberField, expected: "a \(bits)-bit bitfield integer", found: value.shown)
          }
          for bit in 0..<bits {
            let position = place.bitOffset + bit
            let index = offset + position / 8
            let mask = UInt8(1) << UInt8(position % 8)
            if (number.bits >> UInt64(bit)) & 1 == 1 {
              bytes[index] |= mask
            } else {
              bytes[index] &= ~mask
            }
          }
        } else {
          try write(
            value, id: member.type, btf: btf, into: &bytes, at: offset + place.bitOffset / 8,
            field: memberField)
        }
      }
    case .float:
      guard case .word(let word) = syntax, let number = Double(word) else { throw mismatch() }
      let raw = size == 4 ? UInt64(Float(number).bitPattern) : number.bitPattern
      bytes.replaceSubrange(offset..<offset + size, with: Self.bytes(raw, count: size))
    default:
      throw mismatch()
    }
  }

  /// An integer as written: its two's-complement bits and its sign.
  struct Number {
    var bits: UInt64
    var negative: Bool

    func fits(bits width: Int, signed: Bool) -> Bool {
      if width >= 64 { return !negative || signed }
      if negative {
        guard signed else { return false }
        return Int64(bitPattern: bits) >= -(Int64(1) << Int64(width - 1))
      }
      return signed ? bits < UInt64(1) << UInt64(width - 1) : bits < UInt64(1) << UInt64(width)
    }
  }

  /// Decimal, `0x` hexadecimal, `0o` octal, `0b` binary; a leading `-`.
  static func integer(_ word: String) -> Number? {
    var text = Substring(word)
    let negative = text.hasPrefix("-")
    if negative { text = text.dropFirst() }
    var radix = 10
    for (prefix, base) in [("0x", 16), ("0X", 16), ("0o", 8), ("0b", 2)]
    where text.hasPrefix(prefix) {
      radix = base
      text = text.dropFirst(2)
    }
    guard let magnitude = UInt64(text, radix: radix) else { return nil }
    if negative {
      guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
      return Number(
        bits: UInt64(bitPattern: 0 &- Int64(bitPattern: magnitude)), negative: magnitude != 0)
    }
    return Number(bits: magnitude, negative: false)
  }

  static func bytes(_ value: UInt64, count: Int) -> [UInt8] {
    (0..<count).map { $0 < 8 ? UInt8(truncatingIfNeeded: value >> UInt64($0 * 8)) : 0 }
  }

  static func hexBytes(_ word: String, size: Int, field: String) throws(BTFValueError) -> [UInt8] {
    let digits = Array(word.dropFirst(4).filter { $0 != "_" })
    var bytes: [UInt8] = []
    var index = 0
    while index + 1 < digits.count {
      guard let byte = UInt8(String(digits[index...index + 1]), radix: 16) else { break }
      bytes.append(byte)
      index += 2
    }
    guard index == digits.count, bytes.count == size else {
      throw .mismatch(
        field: field, expected: "hex:BYTES with \(size) bytes (\(size * 2) hex digits)",
        found: "\"\(word)\"")
    }
    return bytes
  }
}

extension BTFType.Detail {
  /// The element type of an array.
  var arrayElement: UInt32? {
    if case .array(let element, _, _) = self { return element }
    return nil
  }
}
