import Foundation

/// A compiled BPF object file (ELF64, little-endian, `EM_BPF`, `ET_REL`),
/// read the way libbpf's `bpf_object__open` reads it: its maps, its programs
/// and their relocations, ready to link into loadable ``Program`` values.
///
/// Everything is read and checked when the object is opened; a program is
/// linked when asked for, so that one program the reader cannot handle
/// (CO-RE relocations) does not hide the others.
public struct BPFObject: Sendable {
  /// The file name used in messages.
  public let name: String
  /// The maps, in libbpf's order; relocated `ld_imm64` instructions refer to
  /// them by index.
  public let maps: [MapDefinition]
  /// Where each map of ``maps`` (same index) was declared.
  public let mapDeclarations: [MapDeclaration]
  /// Every executable section with size, in section order, instructions as
  /// stored in the file.
  public let executableSections: [ExecutableSection]
  /// The programs: global functions of executable sections other than
  /// `.text`, by section then offset (libbpf's order).
  public let programEntries: [ProgramEntry]
  /// The parsed `.BTF` section, if the object has one.
  public let btf: BTF?
  /// The contents of the `license` section (`GPL`), if any.
  public let license: String?
  /// Things the reader skipped and a user may want to know about.
  public let notes: [String]
  private let coreRelocations: [String: [UInt64]]
  /// The `.BTF.ext` line records, by section name (empty without them).
  public let sourceLines: [String: [SourceLine]]

  /// One program of the object, before linking.
  public struct ProgramEntry: Hashable, Sendable {
    /// The function name.
    public var name: String
    /// The section it is in.
    public var sectionName: String
    /// Whether the section name is one of libbpf's XDP section names.
    public var isXDP: Bool { Program.isXDPSection(sectionName) }
  }

  /// Reads the object file at `path`.
  public init(contentsOf path: String) throws(BPFObjectError) {
    try self.init(bytes: ByteView.contents(ofFile: path), name: path)
  }

  /// Reads an object from memory; `name` (a file name) is used in messages
  /// and, like libbpf, to name global data maps.
  public init(bytes: [UInt8], name: String) throws(BPFObjectError) {
    self.name = name
    let elf = try ELFFile(bytes: bytes, file: name)
    let btf = try elf.section(named: ".BTF").flatMap { section throws(BPFObjectError) in
      try section.data.map { data throws(BPFObjectError) in try BTF(data) }
    }
    self.btf = btf
    coreRelocations =
      try elf.section(named: ".BTF.ext")?.data.map { data throws(BPFObjectError) in
        try BTFExtension(data, btf: btf).coreRelocations
      } ?? [:]
    sourceLines =
      (try? elf.section(named: ".BTF.ext")?.data.map { data throws(BPFObjectError) in
        try SourceLine.records(data, btf: btf)
      }) ?? [:]

    var mapReader = MapReader(elf: elf, btf: btf, objectName: Self.objectName(from: name))
    let declarations = try mapReader.read()
    mapDeclarations = declarations
    maps = declarations.map(\.definition)
    notes = mapReader.notes

    var sections: [Int: ExecutableSection] = [:]
    for section in elf.sections where section.isExecutable && section.size > 0 {
      sections[section.index] = try ExecutableSection(section, elf: elf)
    }
    let relocations = try RelocationReader(elf: elf, maps: declarations, executable: sections)
      .read()
    for (index, list) in relocations { sections[index]?.relocations = list }
    executableSections = sections.values.sorted { $0.index < $1.index }
    programEntries = executableSections.filter { $0.name != ".text" }.flatMap { section in
      section.functions.map { ProgramEntry(name: $0.name, sectionName: section.name) }
    }
    license = elf.section(named: "license")?.data.flatMap { $0.string(at: 0) }
  }

  /// libbpf's object name: the file's base name up to its first dot, at
  /// most 15 bytes.
  static func objectName(from path: String) -> String {
    let base = path.split(separator: "/").last.map(String.init) ?? path
    let stem = base.split(separator: ".", omittingEmptySubsequences: false).first ?? ""
    return String(decoding: stem.utf8.prefix(15), as: UTF8.self)
  }

  /// The program names, in ``programEntries`` order.
  public var programNames: [String] { programEntries.map(\.name) }

  /// The executable section named `name`.
  public func section(named name: String) -> ExecutableSection? {
    executableSections.first { $0.name == name }
  }

  /// The program named `name`, linked with its subprograms.
  ///
  /// - Throws: ``BPFObjectError/unknownProgram(file:name:available:)`` listing
  ///   the programs there are, or a linking error.
  public func program(named name: String) throws(BPFObjectError) -> Program {
    for section in executableSections where section.name != ".text" {
      if let function = section.functions.first(where: { $0.name == name }) {
        return try linker.link(function, in: section)
      }
    }
    throw .unknownProgram(file: self.name, name: name, available: programNames)
  }

  /// The named program, linked, if it is in an XDP section; a program of
  /// any other section (`socket`, `tc`) is refused with its section name.
  public func xdpProgram(named name: String) throws(BPFObjectError) -> Program {
    let program = try program(named: name)
    guard program.isXDP else {
      throw .notXDPProgram(file: self.name, name: name, section: program.sectionName)
    }
    return program
  }

  /// Every program, linked, in ``programEntries`` order.
  public func programs() throws(BPFObjectError) -> [Program] {
    var result: [Program] = []
    for section in executableSections where section.name != ".text" {
      for function in section.functions {
        result.append(try linker.link(function, in: section))
      }
    }
    return result
  }

  private var linker: ProgramLinker {
    ProgramLinker(
      file: name,
      sections: Dictionary(uniqueKeysWithValues: executableSections.map { ($0.index, $0) }),
      coreRelocations: coreRelocations)
  }
}
