/// Writes a linked ``Program`` back into an ELF relocatable object that
/// `llvm-objdump -d` and ``BPFObject`` read: what `xdpbatch rewrite -o`
/// produces.
///
/// - The main part goes into a section named like the program's
///   (``Program/sectionName``), as one global `STT_FUNC` symbol.
/// - Subprograms go into `.text`, each a local `STT_FUNC`, in their linked
///   order; calls from the main part reach them through `R_BPF_64_32`
///   relocations, calls among them stay relative (the layout is kept), so
///   linking the object again yields the same instructions.
/// - Maps are BTF-defined, as libbpf 1.x requires: a `.maps` section
///   (zeros) with one global `STT_OBJECT` per map, in map-table order, and
///   a `.BTF` section that describes them (``MapBTF``: type, max_entries,
///   key_size, value_size, map_flags). Each map `ld_imm64` is zeroed and
///   gets an `R_BPF_64_64` relocation against its map's symbol.
/// - The source's `.BTF` and `.BTF.ext` are not carried over: their line
///   and function records describe the source's instruction offsets, and
///   the written BTF describes the maps only (see docs/DESIGN.md, "BTF in written objects and loaded programs").
/// - The license goes into `license`, as `_license`.
///
/// Global data (`.data`, `.rodata`, `.bss` maps) and subprogram addresses
/// (`ld_imm64` source 4) are refused with an ``ObjectWriterError``.
public struct ObjectWriter: Sendable {
  /// The program to write.
  public var program: Program
  /// The map table its `ld_imm64` instructions index.
  public var maps: [MapDefinition]
  /// The license string (`GPL`), written when present.
  public var license: String?

  /// Describes an object to write.
  public init(program: Program, maps: [MapDefinition], license: String? = "GPL") {
    self.program = program
    self.maps = maps
    self.license = license
  }

  /// The object file's bytes.
  public func bytes() throws(ObjectWriterError) -> [UInt8] {
    if let data = maps.first(where: { $0.initialValue != nil }) {
      throw .globalDataUnsupported(map: data.name)
    }
    let main = Array(program.instructions.prefix(program.mainLength))
    let text = Array(program.instructions.dropFirst(program.mainLength))
    let mainLength = program.mainLength
    var image = ELFImage()

    var mainCode = try relocatable(main, base: 0)
    let textCode = try relocatable(text, base: mainLength)
    let mainSection = image.add(
      .init(
        name: program.sectionName, type: 1, flags: ELFImage.flagAllocate | ELFImage.flagExecute,
        contents: [], alignment: 8))
    let textSection =
      text.isEmpty
      ? nil
      : image.add(
        .init(
          name: ".text", type: 1, flags: ELFImage.flagAllocate | ELFImage.flagExecute,
          contents: [], alignment: 8))
    let mapTypes = MapBTF(maps: maps)
    let mapSection =
      maps.isEmpty
      ? nil
      : image.add(
        .init(
          name: ".maps", type: 1, flags: ELFImage.flagAllocate | ELFImage.flagWrite,
          contents: [UInt8](repeating: 0, count: Int(mapTypes.sectionSize)), alignment: 8))
    let licenseSection = license.map { license in
      image.add(
        .init(
          name: "license", type: 1, flags: ELFImage.flagAllocate | ELFImage.flagWrite,
          contents: Array(license.utf8) + [0], alignment: 1))
    }

    image.symbols.append(
      .init(
        name: program.name, type: 2, isGlobal: true, section: mainSection, value: 0,
        size: UInt64(main.count * Instruction.size)))
    for subprogram in program.subprograms {
      image.symbols.append(
        .init(
          name: subprogram.name, type: 2, isGlobal: false, section: textSection ?? mainSection,
          value: UInt64((subprogram.start - mainLength) * Instruction.size),
          size: UInt64(subprogram.length * Instruction.size)))
    }
    for (index, map) in maps.enumerated() {
      image.symbols.append(
        .init(
          name: map.name, type: 1, isGlobal: true, section: mapSection ?? 0,
          value: mapTypes.offsets[index], size: mapTypes.sizes[index]))
    }
    if !maps.isEmpty {
      _ = image.add(
        .init(
          name: ".BTF", type: 1, flags: 0, contents: mapTypes.encoder.bytes(), alignment: 4))
    }
    if let licenseSection, let license {
      image.symbols.append(
        .init(
          name: "_license", type: 1, isGlobal: true, section: licenseSection, value: 0,
          size: UInt64(license.utf8.count + 1)))
    }

    let calls = try callRelocations(in: &mainCode)
    for (code, section, extra) in [
      (mainCode, mainSection, calls), (textCode, textSection, []),
    ] {
      guard let section else { continue }
      image.replaceContents(of: section, with: Instruction.encode(code.instructions))
      let entries = code.mapReferences.map { ($0.slot, maps[$0.map].name, Self.immediate64) }
      guard !(entries + extra).isEmpty else { continue }
      var table: [UInt8] = []
      for (slot, symbol, type) in entries + extra {
        guard let symbolIndex = image.symbolIndex(named: symbol) else { continue }
        table += littleEndianBytes(UInt64(slot * Instruction.size))
        table += littleEndianBytes(UInt64(symbolIndex) << 32 | UInt64(type))
      }
      _ = image.add(
        .init(
          name: ".rel" + image.sections[section - 1].name, type: 9, flags: 0, contents: table,
          alignment: 8, info: UInt32(section), entrySize: 16, linksSymbolTable: true))
    }
    return image.bytes()
  }

  /// `R_BPF_64_64`.
  static let immediate64: UInt32 = 1
  /// `R_BPF_64_32`.
  static let call32: UInt32 = 10

  /// Instructions with map references zeroed, and where they were.
  struct RelocatableCode {
    var instructions: [Instruction]
    var base: Int
    var mapReferences: [(slot: Int, map: Int)] = []
  }

  private func relocatable(_ code: [Instruction], base: Int) throws(ObjectWriterError)
    -> RelocatableCode
  {
    var result = RelocatableCode(instructions: code, base: base)
    var slot = 0
    while slot < code.count {
      let instruction = code[slot]
      guard instruction.isWideImmediateLoad, slot + 1 < code.count else {
        slot += 1
        continue
      }
      switch instruction.immediateLoadKind {
      case .mapByIndex:
        let map = Int(instruction.immediate)
        guard maps.indices.contains(map) else {
          throw .unknownMap(program: program.name, instruction: base + slot, map: map)
        }
        result.instructions[slot].src = .r0
        result.instructions[slot].immediate = 0
        result.instructions[slot + 1].immediate = 0
        result.mapReferences.append((slot, map))
      case .mapValueByIndex:
        throw .globalDataUnsupported(map: "map \(instruction.immediate)")
      case .codeAddress:
        throw .subprogramAddressUnsupported(program: program.name, instruction: base + slot)
      default:
        break
      }
      slot += 2
    }
    return result
  }

  /// Turns each call from the main part into a subprogram into a
  /// relocation against the subprogram's symbol (immediate -1, as the
  /// reader adds 1 to reach the symbol's first instruction).
  private func callRelocations(in code: inout RelocatableCode) throws(ObjectWriterError)
    -> [(Int, String, UInt32)]
  {
    var relocations: [(Int, String, UInt32)] = []
    for slot in code.instructions.indices where code.instructions[slot].isLocalCall {
      let target = slot + 1 + Int(code.instructions[slot].immediate)
      if target >= 0 && target < program.mainLength { continue }
      guard let callee = program.subprograms.first(where: { $0.start == target }) else {
        throw .callIntoNoSubprogram(program: program.name, instruction: slot, target: target)
      }
      code.instructions[slot].immediate = -1
      relocations.append((slot, callee.name, Self.call32))
    }
    return relocations
  }
}

extension ELFImage {
  /// Sets a section's bytes once they are final.
  mutating func replaceContents(of section: Int, with contents: [UInt8]) {
    var updated = sections[section - 1]
    updated.contents = contents
    replace(section, with: updated)
  }
}

/// Why ``ObjectWriter`` cannot write a program.
public enum ObjectWriterError: Error, Equatable, Sendable {
  /// A map `ld_imm64` names a map the table does not have.
  case unknownMap(program: String, instruction: Int, map: Int)
  /// Global data maps are not written.
  case globalDataUnsupported(map: String)
  /// `ld_imm64` with a subprogram address (source 4) is not written.
  case subprogramAddressUnsupported(program: String, instruction: Int)
  /// A local call that lands on no subprogram's first instruction.
  case callIntoNoSubprogram(program: String, instruction: Int, target: Int)
}

extension ObjectWriterError: CustomStringConvertible {
  /// A one-line message naming the program and instruction.
  public var description: String {
    switch self {
    case .unknownMap(let program, let instruction, let map):
      "program \(program), instruction \(instruction): map index \(map) is not in the map table"
    case .globalDataUnsupported(let map):
      "\(map) holds global data (.data/.rodata/.bss), which the object writer does not write"
    case .subprogramAddressUnsupported(let program, let instruction):
      "program \(program), instruction \(instruction): subprogram addresses (ld_imm64 src 4) are not written"
    case .callIntoNoSubprogram(let program, let instruction, let target):
      "program \(program), instruction \(instruction): call target \(target) is not the start of a subprogram"
    }
  }
}
