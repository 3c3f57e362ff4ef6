/// Assembles an ELF64 little-endian relocatable object for `EM_BPF` from
/// sections and symbols: the byte-level half of ``ObjectWriter``.
///
/// Sections are laid out in the order added, each aligned, followed by the
/// symbol table, its string table, the section name table and the section
/// header table. Index 0 (the null section and the null symbol) is implicit.
struct ELFImage {
  /// One section to write.
  struct Section {
    var name: String
    var type: UInt32
    var flags: UInt64
    var contents: [UInt8]
    var alignment: UInt64
    var link: UInt32 = 0
    var info: UInt32 = 0
    var entrySize: UInt64 = 0
    /// Relocation sections: `link` is set to the symbol table's index.
    var linksSymbolTable = false
  }

  /// One symbol to write; `section` is an index returned by ``add(_:)``.
  struct Symbol {
    var name: String
    var type: UInt8
    var isGlobal: Bool
    var section: Int
    var value: UInt64
    var size: UInt64
  }

  static let flagWrite: UInt64 = 0x1
  static let flagAllocate: UInt64 = 0x2
  static let flagExecute: UInt64 = 0x4

  private(set) var sections: [Section] = []
  /// Symbols; the table puts local ones first, as ELF requires.
  var symbols: [Symbol] = []

  /// Replaces section `index` (as returned by ``add(_:)``).
  mutating func replace(_ index: Int, with section: Section) { sections[index - 1] = section }

  /// Adds a section and returns its index (the first is 1).
  mutating func add(_ section: Section) -> Int {
    sections.append(section)
    return sections.count
  }

  /// The index a symbol will have in the table (locals first, then
  /// globals, each in the order added).
  func symbolIndex(named name: String) -> Int? {
    ordered.firstIndex { $0.name == name }.map { $0 + 1 }
  }

  private var ordered: [Symbol] { symbols.filter { !$0.isGlobal } + symbols.filter(\.isGlobal) }

  /// The whole file.
  func bytes() -> [UInt8] {
    var strings = StringTable()
    var symbolTable = [UInt8](repeating: 0, count: 24)
    for symbol in ordered {
      symbolTable += littleEndianBytes(strings.offset(of: symbol.name))
      symbolTable += [(symbol.isGlobal ? 1 << 4 : 0) | symbol.type, 0]
      symbolTable +=
        littleEndianBytes(UInt16(symbol.section)) + littleEndianBytes(symbol.value)
        + littleEndianBytes(symbol.size)
    }
    let locals = UInt32(1 + symbols.filter { !$0.isGlobal }.count)
    let symbolTableSection = sections.count + 1
    var all = sections.map { section in
      var linked = section
      if section.linksSymbolTable { linked.link = UInt32(symbolTableSection) }
      return linked
    }
    all.append(
      Section(
        name: ".symtab", type: 2, flags: 0, contents: symbolTable, alignment: 8,
        link: UInt32(symbolTableSection + 1), info: locals, entrySize: 24))
    all.append(Section(name: ".strtab", type: 3, flags: 0, contents: strings.bytes, alignment: 1))
    var names = StringTable()
    let nameOffsets = all.map { names.offset(of: $0.name) }
    let shstrtabName = names.offset(of: ".shstrtab")
    all.append(Section(name: ".shstrtab", type: 3, flags: 0, contents: names.bytes, alignment: 1))

    var file = [UInt8](repeating: 0, count: 64)
    var headers = [UInt8](repeating: 0, count: 64)
    for (index, section) in all.enumerated() {
      let alignment = max(section.alignment, 1)
      while UInt64(file.count) % alignment != 0 { file.append(0) }
      let offset = UInt64(file.count)
      file += section.contents
      let name = index < nameOffsets.count ? nameOffsets[index] : shstrtabName
      headers +=
        littleEndianBytes(name) + littleEndianBytes(section.type) + littleEndianBytes(section.flags)
        + littleEndianBytes(UInt64(0)) + littleEndianBytes(offset)
      headers +=
        littleEndianBytes(UInt64(section.contents.count)) + littleEndianBytes(section.link)
        + littleEndianBytes(section.info)
      headers += littleEndianBytes(alignment) + littleEndianBytes(section.entrySize)
    }
    while file.count % 8 != 0 { file.append(0) }
    let headerOffset = UInt64(file.count)
    file += headers
    var header: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
    header +=
      littleEndianBytes(UInt16(1)) + littleEndianBytes(UInt16(247)) + littleEndianBytes(UInt32(1))
      + littleEndianBytes(UInt64(0)) + littleEndianBytes(UInt64(0))
    header +=
      littleEndianBytes(headerOffset) + littleEndianBytes(UInt32(0)) + littleEndianBytes(UInt16(64))
      + littleEndianBytes(UInt16(0)) + littleEndianBytes(UInt16(0))
    header +=
      littleEndianBytes(UInt16(64)) + littleEndianBytes(UInt16(all.count + 1))
      + littleEndianBytes(UInt16(all.count))
    file.replaceSubrange(0..<64, with: header)
    return file
  }

  /// A string table: NUL first, each string once.
  private struct StringTable {
    var bytes: [UInt8] = [0]
    var offsets: [String: UInt32] = ["": 0]

    mutating func offset(of string: String) -> UInt32 {
      if let known = offsets[string] { return known }
      let offset = UInt32(bytes.count)
      bytes += Array(string.utf8) + [0]
      offsets[string] = offset
      return offset
    }
  }
}

/// The little-endian bytes of an integer.
func littleEndianBytes<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
  withUnsafeBytes(of: value.littleEndian) { Array($0) }
}
