/// The type information of a `.BTF` section: every type, by id.
///
/// Parsed with the same checks as libbpf's `btf_parse_hdr`,
/// `btf_parse_str_sec` and `btf_parse_type_sec`, so that a corrupted section
/// is an error and never a trap. Type id 0 is `void` and has no entry.
public struct BTF: Sendable {
  /// `BTF_MAGIC`, as read little-endian.
  static let magic: UInt16 = 0xeb9f
  /// How deep modifier and typedef chains may go before they count as a cycle.
  static let maximumResolveDepth = 32

  /// The types, in id order: `types[0]` has id 1.
  public let types: [BTFType]
  let file: String
  let section: String
  /// The string section, for `.BTF.ext` records that name sections by offset.
  let strings: ByteView

  /// Parses a `.BTF` section.
  init(_ data: ByteView, section: String = ".BTF") throws(BPFObjectError) {
    let file = data.file
    self.file = file
    self.section = section
    func invalid(_ reason: String) -> BPFObjectError {
      .invalidBTF(file: file, section: section, reason: reason)
    }
    guard data.count >= 24 else {
      throw invalid("header needs 24 bytes, the section has \(data.count)")
    }
    let magic = try data.u16(0)
    guard magic == Self.magic else {
      throw invalid(
        "bad magic 0x\(String(magic, radix: 16)) (expected 0xeb9f\(magic == 0x9feb ? "; big-endian BTF is not supported" : ""))"
      )
    }
    let version = try data.u8(2)
    guard version == 1 else { throw invalid("version \(version) is not 1") }
    let headerLength = UInt64(try data.u32(4))
    let typeOffset = UInt64(try data.u32(8))
    let typeLength = UInt64(try data.u32(12))
    let stringOffset = UInt64(try data.u32(16))
    let stringLength = UInt64(try data.u32(20))
    guard headerLength >= 24, headerLength <= UInt64(data.count) else {
      throw invalid("header length \(headerLength) is outside 24...\(data.count)")
    }
    let available = UInt64(data.count) - headerLength
    guard typeOffset % 4 == 0 else {
      throw invalid("type section offset \(typeOffset) is not 4-aligned")
    }
    guard stringOffset + stringLength <= available else {
      throw invalid(
        "string section (offset \(stringOffset), length \(stringLength)) is out of bounds (\(available) bytes after the header)"
      )
    }
    guard typeOffset + typeLength <= stringOffset else {
      throw invalid(
        "type section (offset \(typeOffset), length \(typeLength)) overlaps or follows the string section at \(stringOffset)"
      )
    }
    let strings = try data.window(
      offset: headerLength + stringOffset, length: stringLength, region: "\(section) strings")
    guard stringLength > 0, try strings.u8(0) == 0, try strings.u8(Int(stringLength) - 1) == 0
    else { throw invalid("string section is empty or does not start and end with NUL") }
    self.strings = strings
    let typeData = try data.window(
      offset: headerLength + typeOffset, length: typeLength, region: "\(section) types")
    types = try Self.parseTypes(typeData, strings: strings, section: section)
    try validateReferences()
  }

  private static func parseTypes(
    _ data: ByteView, strings: ByteView, section: String
  ) throws(BPFObjectError) -> [BTFType] {
    func invalid(_ reason: String) -> BPFObjectError {
      .invalidBTF(file: data.file, section: section, reason: reason)
    }
    var types: [BTFType] = []
    var offset = 0
    while offset < data.count {
      let id = types.count + 1
      guard data.contains(offset: UInt64(offset), length: 12) else {
        throw invalid(
          "type \(id) at offset \(offset) is truncated (needs 12 bytes, \(data.count - offset) left)"
        )
      }
      let info = try data.u32(offset + 4)
      let kindValue = UInt8((info >> 24) & 0x1f)
      guard let kind = BTFKind(rawValue: kindValue) else {
        throw invalid("type \(id) has unknown kind \(kindValue)")
      }
      let vlen = Int(info & 0xffff)
      let record = BTFRecordReader(
        data: data, strings: strings, id: id, offset: offset + 12, section: section)
      let (detail, trailing) = try record.detail(kind: kind, vlen: vlen)
      types.append(
        BTFType(
          kind: kind, name: try record.name(at: try data.u32(offset)), kindFlag: info >> 31 != 0,
          vlen: vlen, sizeOrType: try data.u32(offset + 8), detail: detail))
      offset += 12 + trailing
    }
    return types
  }

  private func validateReferences() throws(BPFObjectError) {
    for (index, type) in types.enumerated() {
      var referenced: [UInt32] = []
      switch type.kind {
      case .pointer, .typedef, .volatile, .const, .restrict, .function, .variable, .typeTag,
        .declarationTag, .functionPrototype:
        referenced.append(type.sizeOrType)
      default: break
      }
      switch type.detail {
      case .array(let element, let indexType, _): referenced += [element, indexType]
      case .members(let members), .parameters(let members): referenced += members.map(\.type)
      case .sectionVariables(let variables): referenced += variables.map(\.type)
      default: break
      }
      if let bad = referenced.first(where: { Int($0) > types.count }) {
        throw BPFObjectError.invalidBTF(
          file: file, section: section,
          reason:
            "type \(index + 1) (\(type.kind)) refers to type \(bad), but there are only \(types.count)"
        )
      }
    }
  }

  /// The type with id `id` (1-based); throws for `void` and unknown ids.
  public func type(_ id: UInt32) throws(BPFObjectError) -> BTFType {
    guard id >= 1, Int(id) <= types.count else {
      throw .invalidBTF(
        file: file, section: section, reason: "type id \(id) does not exist (1...\(types.count))")
    }
    return types[Int(id) - 1]
  }

  /// Follows typedefs and modifiers from `id` to the type they name
  /// (libbpf's `skip_mods_and_typedefs`).
  public func skippingModifiers(_ id: UInt32) throws(BPFObjectError) -> (id: UInt32, type: BTFType)
  {
    var current = id
    for _ in 0..<Self.maximumResolveDepth {
      let type = try type(current)
      guard type.kind.isModifierOrTypedef else { return (current, type) }
      current = type.sizeOrType
    }
    throw .invalidBTF(
      file: file, section: section, reason: "type \(id): modifier chain is too deep or cyclic")
  }

  /// The size in bytes of type `id` (libbpf's `btf__resolve_size`).
  public func size(of id: UInt32) throws(BPFObjectError) -> UInt64 {
    var current = id
    var count: UInt64 = 1
    for _ in 0..<Self.maximumResolveDepth {
      let type = try type(current)
      switch type.kind {
      case .integer, .structure, .union, .enumeration, .enumeration64, .dataSection, .float:
        return try multiply(count, UInt64(type.sizeOrType), id)
      case .pointer:
        return try multiply(count, 8, id)
      case .typedef, .volatile, .const, .restrict, .variable, .typeTag:
        current = type.sizeOrType
      case .array:
        guard case .array(let element, _, let elements) = type.detail else { break }
        count = try multiply(count, UInt64(elements), id)
        current = element
      case .forward, .function, .functionPrototype, .declarationTag:
        throw .invalidBTF(
          file: file, section: section, reason: "type \(id): \(type.kind) has no size")
      }
    }
    throw .invalidBTF(
      file: file, section: section, reason: "type \(id): type chain is too deep or cyclic")
  }

  private func multiply(_ a: UInt64, _ b: UInt64, _ id: UInt32) throws(BPFObjectError) -> UInt64 {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow, product <= UInt64(UInt32.max) else {
      throw .invalidBTF(file: file, section: section, reason: "type \(id): size overflows 32 bits")
    }
    return product
  }

  /// The string at `offset` of the string section.
  func string(at offset: UInt32) throws(BPFObjectError) -> String {
    guard let string = strings.string(at: UInt64(offset)) else {
      throw .invalidBTF(
        file: file, section: section,
        reason: "string offset \(offset) is outside the string section")
    }
    return string
  }
}

/// Reads the records that trail one `struct btf_type`.
private struct BTFRecordReader {
  let data: ByteView
  let strings: ByteView
  let id: Int
  let offset: Int
  let section: String

  func invalid(_ reason: String) -> BPFObjectError {
    .invalidBTF(file: data.file, section: section, reason: reason)
  }

  func name(at nameOffset: UInt32) throws(BPFObjectError) -> String {
    guard let name = strings.string(at: UInt64(nameOffset)) else {
      throw invalid("type \(id): name offset \(nameOffset) is outside the string section")
    }
    return name
  }

  private func need(_ length: Int) throws(BPFObjectError) {
    guard data.contains(offset: UInt64(offset), length: UInt64(length)) else {
      throw invalid(
        "type \(id): \(length) bytes of trailing data at offset \(offset) run past the type section (\(data.count) bytes)"
      )
    }
  }

  private func u32(_ index: Int) throws(BPFObjectError) -> UInt32 {
    try data.u32(offset + 4 * index)
  }

  func detail(kind: BTFKind, vlen: Int) throws(BPFObjectError) -> (BTFType.Detail, Int) {
    switch kind {
    case .integer:
      try need(4)
      return (.integer(encoding: try u32(0)), 4)
    case .array:
      try need(12)
      return (.array(element: try u32(0), index: try u32(1), count: try u32(2)), 12)
    case .structure, .union:
      try need(12 * vlen)
      var members: [BTFType.Member] = []
      for index in 0..<vlen {
        members.append(
          .init(
            name: try name(at: try u32(3 * index)), type: try u32(3 * index + 1),
            offset: try u32(3 * index + 2)))
      }
      return (.members(members), 12 * vlen)
    case .enumeration:
      try need(8 * vlen)
      var values: [BTFType.Enumerator] = []
      for index in 0..<vlen {
        values.append(
          .init(
            name: try name(at: try u32(2 * index)),
            value: Int64(Int32(bitPattern: try u32(2 * index + 1)))))
      }
      return (.enumerators(values), 8 * vlen)
    case .enumeration64:
      try need(12 * vlen)
      var values: [BTFType.Enumerator] = []
      for index in 0..<vlen {
        let bits = UInt64(try u32(3 * index + 1)) | UInt64(try u32(3 * index + 2)) << 32
        values.append(.init(name: try name(at: try u32(3 * index)), value: Int64(bitPattern: bits)))
      }
      return (.enumerators(values), 12 * vlen)
    case .functionPrototype:
      try need(8 * vlen)
      var parameters: [BTFType.Member] = []
      for index in 0..<vlen {
        parameters.append(
          .init(name: try name(at: try u32(2 * index)), type: try u32(2 * index + 1), offset: 0))
      }
      return (.parameters(parameters), 8 * vlen)
    case .variable:
      try need(4)
      return (.variable(linkage: try u32(0)), 4)
    case .dataSection:
      try need(12 * vlen)
      var variables: [BTFType.SectionVariable] = []
      for index in 0..<vlen {
        variables.append(
          .init(
            type: try u32(3 * index), offset: try u32(3 * index + 1), size: try u32(3 * index + 2)))
      }
      return (.sectionVariables(variables), 12 * vlen)
    case .declarationTag:
      try need(4)
      return (.declarationTag(componentIndex: Int32(bitPattern: try u32(0))), 4)
    case .pointer, .forward, .typedef, .volatile, .const, .restrict, .function, .float, .typeTag:
      return (.none, 0)
    }
  }
}
