/// Where a map of an object comes from, and the attributes that
/// ``MapDefinition`` does not carry.
///
/// Relocations find their map through ``section`` and ``offset``, as in
/// libbpf (`map->sec_idx`, `map->sec_offset`).
public struct MapDeclaration: Hashable, Sendable {
  /// How the map was declared.
  public enum Origin: Hashable, Sendable {
    /// A BTF-defined map in `.maps`.
    case btf
    /// A `struct bpf_map_def` record in the legacy `maps` section.
    case legacy
    /// The internal array map libbpf creates for a global data section.
    case globalData
  }

  /// The map as the engine and loader create it.
  public var definition: MapDefinition
  /// How it was declared.
  public var origin: Origin
  /// The ELF section name (`.maps`, `maps`, `.rodata`, ...).
  public var section: String
  /// The ELF section index, for relocations.
  var sectionIndex: Int
  /// Byte offset of the declaration in its section.
  public var offset: UInt64
  /// libbpf's `pinning` attribute (0 none, 1 by name).
  public var pinning: UInt32 = 0
  /// The `numa_node` attribute.
  public var numaNode: UInt32 = 0
}

/// Reads the maps of an object in libbpf's order: BTF-defined maps, then
/// legacy ones, then one internal map per global data section.
struct MapReader {
  /// `BPF_F_RDONLY_PROG`.
  static let readOnlyForPrograms: UInt32 = 1 << 7
  /// `BPF_F_MMAPABLE`.
  static let memoryMappable: UInt32 = 1 << 10

  let elf: ELFFile
  let btf: BTF?
  /// The object name libbpf derives from the file name (up to the first
  /// dot, at most 15 bytes), used to name global data maps.
  let objectName: String
  var notes: [String] = []

  var file: String { elf.file }

  mutating func read() throws(BPFObjectError) -> [MapDeclaration] {
    var maps: [MapDeclaration] = []
    if let section = elf.section(named: ".maps"), section.size > 0 {
      maps += try btfMaps(in: section)
    }
    if let section = elf.section(named: "maps"), section.size > 0 {
      maps += try legacyMaps(in: section)
    }
    maps += try globalDataMaps()
    return maps
  }

  /// Whether a section backs a libbpf global data map.
  static func isGlobalData(_ section: ELFSection) -> Bool {
    guard section.size > 0, !section.isExecutable else { return false }
    let name = section.name
    if section.type == ELFSection.typeNoBits { return name == ".bss" }
    guard section.type == ELFSection.typeProgramBits else { return false }
    return name == ".data" || name == ".rodata" || name.hasPrefix(".data.")
      || name.hasPrefix(".rodata.")
  }

  /// The largest global data section this reader creates a map for; the
  /// kernel refuses array values above a few MiB anyway.
  static let largestGlobalData: UInt64 = 1 << 26

  private func globalDataMaps() throws(BPFObjectError) -> [MapDeclaration] {
    let sections = elf.sections.filter(Self.isGlobalData)
    if let large = sections.first(where: { $0.size > Self.largestGlobalData }) {
      throw .invalidMap(
        file: file, map: large.name,
        reason:
          "global data section of \(large.size) bytes is larger than \(Self.largestGlobalData)")
    }
    return sections.map { section in
      let readOnly = section.name.hasPrefix(".rodata")
      let contents = section.data.map { Array($0.contents) }
      let size = UInt32(clamping: section.size)
      return MapDeclaration(
        definition: MapDefinition(
          name: internalMapName(section.name), type: .array, keySize: 4, valueSize: size,
          maxEntries: 1,
          flags: (readOnly ? Self.readOnlyForPrograms : 0) | Self.memoryMappable,
          initialValue: contents ?? [UInt8](repeating: 0, count: Int(size))),
        origin: .globalData, section: section.name, sectionIndex: section.index, offset: 0)
    }
  }

  /// libbpf 1.1's `internal_map_name`: up to 8 bytes of the object name
  /// then the section name, 15 bytes at most, unless the section name has a
  /// second dot (`.rodata.str1.1`), which is then used alone.
  func internalMapName(_ section: String) -> String {
    let nameLimit = 15
    let suffixLength = max(7, section.utf8.count)
    let prefixLength =
      section.utf8.dropFirst().contains(UInt8(ascii: "."))
      ? 0 : min(max(nameLimit - suffixLength, 0), objectName.utf8.count)
    let raw = Array(objectName.utf8.prefix(prefixLength)) + Array(section.utf8.prefix(suffixLength))
    let sanitized = raw.prefix(nameLimit).map { byte -> UInt8 in
      let isAlphanumeric =
        (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
      return isAlphanumeric || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        ? byte : UInt8(ascii: "_")
    }
    return String(decoding: sanitized, as: UTF8.self)
  }

  private func legacyMaps(in section: ELFSection) throws(BPFObjectError) -> [MapDeclaration] {
    guard let data = section.data else { return [] }
    let symbols = elf.symbols
      .filter { Int($0.sectionIndex) == section.index && $0.type != ELFSymbol.typeSection }
      .sorted { $0.value < $1.value }
    var maps: [MapDeclaration] = []
    for symbol in symbols {
      guard data.contains(offset: symbol.value, length: 20) else {
        throw .invalidMap(
          file: file, map: symbol.name,
          reason:
            "struct bpf_map_def (20 bytes) at offset \(symbol.value) runs past section 'maps' (\(section.size) bytes)"
        )
      }
      let start = Int(symbol.value)
      let definition = MapDefinition(
        name: symbol.name, type: MapType(rawValue: try data.u32(start)),
        keySize: try data.u32(start + 4), valueSize: try data.u32(start + 8),
        maxEntries: try data.u32(start + 12), flags: try data.u32(start + 16))
      maps.append(
        MapDeclaration(
          definition: definition, origin: .legacy, section: section.name,
          sectionIndex: section.index, offset: symbol.value))
    }
    return maps
  }

  private mutating func btfMaps(in section: ELFSection) throws(BPFObjectError) -> [MapDeclaration] {
    guard let btf else {
      throw .invalidMap(
        file: file, map: ".maps",
        reason:
          "section '.maps' holds BTF-defined maps, but the object has no .BTF section (compile with -g)"
      )
    }
    guard
      let datasec = btf.types.first(where: { $0.kind == .dataSection && $0.name == ".maps" })
    else {
      throw .invalidBTF(
        file: file, section: ".BTF", reason: "no DATASEC '.maps' describes section '.maps'")
    }
    var maps: [MapDeclaration] = []
    for variable in datasec.sectionVariables {
      let variableType = try btf.type(variable.type)
      guard variableType.kind == .variable else {
        throw .invalidBTF(
          file: file, section: ".BTF",
          reason: "DATASEC '.maps' entry type \(variable.type) is a \(variableType.kind), not a VAR"
        )
      }
      let name = variableType.name
      // clang leaves DATASEC offsets at 0 in object files; like libbpf's
      // btf_fixup_datasec, take each variable's place from its ELF symbol.
      guard
        let symbol = elf.symbols.first(where: {
          $0.name == name && Int($0.sectionIndex) == section.index
        })
      else {
        throw .invalidMap(
          file: file, map: name,
          reason: "no ELF symbol in section '.maps' has the BTF variable's name")
      }
      let (end, overflow) = symbol.value.addingReportingOverflow(UInt64(variable.size))
      guard !overflow, end <= section.size else {
        throw .invalidMap(
          file: file, map: name,
          reason:
            "declared at offset \(symbol.value) size \(variable.size), past the end of '.maps' (\(section.size) bytes)"
        )
      }
      var declaration = MapDeclaration(
        definition: MapDefinition(
          name: name, type: MapType(rawValue: 0), keySize: 0, valueSize: 0, maxEntries: 0),
        origin: .btf, section: section.name, sectionIndex: section.index, offset: symbol.value)
      try readBTFMapDefinition(variableType.sizeOrType, into: &declaration)
      maps.append(declaration)
    }
    return maps
  }

  /// Reads the members of a BTF map definition struct, as libbpf's
  /// `parse_btf_map_def` does.
  private mutating func readBTFMapDefinition(
    _ typeID: UInt32, into declaration: inout MapDeclaration
  ) throws(BPFObjectError) {
    guard let btf else { return }
    let name = declaration.definition.name
    let definition = try btf.skippingModifiers(typeID).type
    guard definition.kind == .structure else {
      throw .invalidMap(
        file: file, map: name, reason: "its type is a \(definition.kind), not a struct")
    }
    var keySize: UInt32?
    var valueSize: UInt32?
    func setSize(_ size: UInt32, _ slot: inout UInt32?, _ what: String) throws(BPFObjectError) {
      if let existing = slot, existing != size {
        throw .invalidMap(
          file: file, map: name, reason: "conflicting \(what) size \(existing) != \(size)")
      }
      slot = size
    }
    for member in definition.members {
      switch member.name {
      case "type": declaration.definition.type = MapType(rawValue: try integer(member, map: name))
      case "max_entries": declaration.definition.maxEntries = try integer(member, map: name)
      case "map_flags": declaration.definition.flags = try integer(member, map: name)
      case "numa_node": declaration.numaNode = try integer(member, map: name)
      case "key_size": try setSize(try integer(member, map: name), &keySize, "key")
      case "value_size": try setSize(try integer(member, map: name), &valueSize, "value")
      case "key": try setSize(try pointeeSize(member, map: name), &keySize, "key")
      case "value": try setSize(try pointeeSize(member, map: name), &valueSize, "value")
      case "pinning":
        let pinning = try integer(member, map: name)
        guard pinning <= 1 else {
          throw .invalidMap(
            file: file, map: name, reason: "pinning \(pinning) is neither 0 (none) nor 1 (by name)")
        }
        declaration.pinning = pinning
      default:
        notes.append(
          "\(file): map '\(name)': ignoring member '\(member.name)' (this reader does not support it)"
        )
      }
    }
    declaration.definition.keySize = keySize ?? 0
    declaration.definition.valueSize = valueSize ?? 0
  }

  /// `__uint(name, value)`: a pointer to an array of `value` elements.
  private func integer(_ member: BTFType.Member, map: String) throws(BPFObjectError) -> UInt32 {
    guard let btf else { return 0 }
    let pointer = try btf.skippingModifiers(member.type).type
    guard pointer.kind == .pointer else {
      throw .invalidMap(
        file: file, map: map,
        reason: "member '\(member.name)' is a \(pointer.kind), not __uint()'s pointer to an array")
    }
    let array = try btf.type(pointer.sizeOrType)
    guard case .array(_, _, let count) = array.detail else {
      throw .invalidMap(
        file: file, map: map,
        reason: "member '\(member.name)' points to a \(array.kind), not __uint()'s array")
    }
    return count
  }

  /// `__type(name, T)`: a pointer to `T`, whose size is the attribute.
  private func pointeeSize(_ member: BTFType.Member, map: String) throws(BPFObjectError) -> UInt32 {
    guard let btf else { return 0 }
    let pointer = try btf.skippingModifiers(member.type).type
    guard pointer.kind == .pointer else {
      throw .invalidMap(
        file: file, map: map,
        reason: "member '\(member.name)' is a \(pointer.kind), not __type()'s pointer")
    }
    return UInt32(try btf.size(of: pointer.sizeOrType))
  }
}
