/// The parts of an ELF64 relocatable object that a BPF loader reads: the
/// header, the section headers with their names, and the symbol table.
///
/// Only the structure is read here; what the sections mean to BPF
/// (programs, maps, relocations) is ``BPFObject``'s business.
struct ELFFile: Sendable {
  /// `e_machine` of a BPF object.
  static let machineBPF: UInt16 = 247

  /// The file name, for messages.
  let file: String
  /// All section headers, in index order (index 0 is the null section).
  let sections: [ELFSection]
  /// The symbol table (`SHT_SYMTAB`), in index order; empty when absent.
  let symbols: [ELFSymbol]

  /// Reads and validates the header, section headers and symbol table.
  init(bytes: [UInt8], file: String) throws(BPFObjectError) {
    self.file = file
    let whole = ByteView(bytes: bytes, file: file)
    guard bytes.count >= 4, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46
    else { throw .notELF(file: file) }
    let header = try whole.window(offset: 0, length: 64, region: "ELF header")
    let elfClass = try header.u8(4)
    guard elfClass == 2 else { throw .unsupportedClass(file: file, elfClass: elfClass) }
    let encoding = try header.u8(5)
    guard encoding == 1 else { throw .unsupportedByteOrder(file: file, encoding: encoding) }
    let type = try header.u16(16)
    let machine = try header.u16(18)
    guard machine == Self.machineBPF else { throw .wrongMachine(file: file, machine: machine) }
    guard type == 1 else { throw .notRelocatable(file: file, type: type) }

    let sectionHeaderOffset = try header.u64(40)
    let entrySize = try header.u16(58)
    var sectionCount = UInt64(try header.u16(60))
    var nameTableIndex = UInt64(try header.u16(62))
    guard sectionHeaderOffset != 0 else {
      throw .malformedHeader(file: file, reason: "no section header table (e_shoff is 0)")
    }
    guard entrySize == 64 else {
      throw .malformedHeader(file: file, reason: "section header size \(entrySize) is not 64")
    }
    // Extended numbering: counts too large for the header live in section 0.
    let first = try whole.window(
      offset: sectionHeaderOffset, length: 64, region: "section header 0")
    if sectionCount == 0 { sectionCount = try first.u64(32) }
    if nameTableIndex == 0xffff { nameTableIndex = UInt64(try first.u32(40)) }
    let (tableLength, overflow) = sectionCount.multipliedReportingOverflow(by: 64)
    guard !overflow, whole.contains(offset: sectionHeaderOffset, length: tableLength) else {
      throw .truncated(
        file: file, region: "section header table (\(sectionCount) entries)",
        offset: sectionHeaderOffset, length: overflow ? UInt64.max : tableLength,
        available: UInt64(bytes.count))
    }
    guard nameTableIndex < sectionCount else {
      throw .malformedHeader(
        file: file,
        reason:
          "section name table index \(nameTableIndex) is not below the section count \(sectionCount)"
      )
    }

    var raw: [ELFSection] = []
    for index in 0..<Int(sectionCount) {
      let entry = try whole.window(
        offset: sectionHeaderOffset + UInt64(index) * 64, length: 64,
        region: "section header \(index)")
      raw.append(try ELFSection(index: index, header: entry))
    }
    let nameTable = raw[Int(nameTableIndex)]
    guard nameTable.hasContents else {
      throw .malformedHeader(
        file: file, reason: "section name table (section \(nameTableIndex)) has no contents")
    }
    let names = try nameTable.contents(in: whole, name: "section name table")
    for index in raw.indices {
      guard let name = names.string(at: UInt64(raw[index].nameOffset)) else {
        throw .stringOutOfBounds(
          file: file, table: "section names (section \(nameTableIndex))",
          offset: UInt64(raw[index].nameOffset))
      }
      raw[index].name = name
      if raw[index].hasContents {
        raw[index].data = try raw[index].contents(in: whole, name: name)
      }
    }
    sections = raw
    symbols = try Self.readSymbols(sections: raw, file: file)
  }

  private static func readSymbols(sections: [ELFSection], file: String) throws(BPFObjectError)
    -> [ELFSymbol]
  {
    guard let table = sections.first(where: { $0.type == ELFSection.typeSymbolTable }) else {
      return []
    }
    guard let data = table.data else { return [] }
    guard table.link < sections.count, let strings = sections[Int(table.link)].data else {
      throw .malformedHeader(
        file: file,
        reason:
          "symbol table '\(table.name)' links to string table \(table.link), which does not exist")
    }
    let stringTableName = "'\(sections[Int(table.link)].name)'"
    var symbols: [ELFSymbol] = []
    let count = data.count / 24
    symbols.reserveCapacity(count)
    for index in 0..<count {
      let entry = try data.window(
        offset: UInt64(index) * 24, length: 24, region: "symbol \(index)")
      let nameOffset = try entry.u32(0)
      guard let name = strings.string(at: UInt64(nameOffset)) else {
        throw .stringOutOfBounds(file: file, table: stringTableName, offset: UInt64(nameOffset))
      }
      symbols.append(
        ELFSymbol(
          index: index, name: name, info: try entry.u8(4), sectionIndex: try entry.u16(6),
          value: try entry.u64(8), size: try entry.u64(16)))
    }
    return symbols
  }

  /// The section at `index`, if it exists.
  func section(_ index: Int) -> ELFSection? {
    sections.indices.contains(index) ? sections[index] : nil
  }

  /// The first section named `name`.
  func section(named name: String) -> ELFSection? {
    sections.first { $0.name == name }
  }
}

/// One section header, with its contents when it has any in the file.
struct ELFSection: Sendable {
  static let typeProgramBits: UInt32 = 1
  static let typeSymbolTable: UInt32 = 2
  static let typeRelocations: UInt32 = 9
  static let typeNoBits: UInt32 = 8
  static let flagExecutable: UInt64 = 0x4

  let index: Int
  let nameOffset: UInt32
  /// The section name (filled in once the name table is known).
  var name = ""
  let type: UInt32
  let flags: UInt64
  let size: UInt64
  let link: UInt32
  let info: UInt32
  let offset: UInt64
  /// The contents; `nil` for `SHT_NOBITS` (`.bss`) and the null section.
  var data: ByteView?

  init(index: Int, header: ByteView) throws(BPFObjectError) {
    self.index = index
    nameOffset = try header.u32(0)
    type = try header.u32(4)
    flags = try header.u64(8)
    offset = try header.u64(24)
    size = try header.u64(32)
    link = try header.u32(40)
    info = try header.u32(44)
  }

  /// Whether the section has bytes in the file (not `SHT_NULL`/`SHT_NOBITS`).
  var hasContents: Bool { type != Self.typeNoBits && type != 0 }

  /// The section's bytes in `file`, checked to lie inside it.
  func contents(in file: ByteView, name: String) throws(BPFObjectError) -> ByteView {
    guard file.contains(offset: offset, length: size) else {
      throw .sectionOutOfBounds(file: file.file, section: name, offset: offset, size: size)
    }
    return try file.window(offset: offset, length: size, region: "section '\(name)'")
  }

  /// Whether the section holds instructions.
  var isExecutable: Bool { type == Self.typeProgramBits && flags & Self.flagExecutable != 0 }
}

/// One entry of the symbol table.
struct ELFSymbol: Sendable {
  static let typeObject: UInt8 = 1
  static let typeFunction: UInt8 = 2
  static let typeSection: UInt8 = 3
  static let bindingLocal: UInt8 = 0

  let index: Int
  let name: String
  let info: UInt8
  /// `st_shndx`: the section the symbol is defined in; 0 when undefined.
  let sectionIndex: UInt16
  let value: UInt64
  let size: UInt64

  var type: UInt8 { info & 0x0f }
  var binding: UInt8 { info >> 4 }
  /// Whether the symbol names a section in this file (not undefined,
  /// absolute or common).
  var isDefined: Bool { sectionIndex != 0 && sectionIndex < 0xff00 }
}
