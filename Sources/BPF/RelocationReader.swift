/// Reads the `SHT_REL` sections that apply to executable sections and
/// resolves each entry to a map, a global data offset or a code address, as
/// libbpf's `bpf_program__record_reloc` does.
struct RelocationReader {
  let elf: ELFFile
  let maps: [MapDeclaration]
  /// Executable sections by ELF index.
  let executable: [Int: ExecutableSection]

  var file: String { elf.file }

  /// The resolved relocations of every executable section, by section index.
  func read() throws(BPFObjectError) -> [Int: [ExecutableSection.Relocation]] {
    var result: [Int: [ExecutableSection.Relocation]] = [:]
    for section in elf.sections where section.type == ELFSection.typeRelocations {
      guard let target = executable[Int(section.info)], let data = section.data else { continue }
      for entry in 0..<(data.count / 16) {
        let offset = try data.u64(entry * 16)
        let info = try data.u64(entry * 16 + 8)
        let relocation = try resolve(
          offset: offset, type: UInt32(truncatingIfNeeded: info),
          symbolIndex: info >> 32, in: target)
        result[target.index, default: []].append(relocation)
      }
    }
    return result
  }

  private func resolve(
    offset: UInt64, type: UInt32, symbolIndex: UInt64, in section: ExecutableSection
  ) throws(BPFObjectError) -> ExecutableSection.Relocation {
    func invalid(_ reason: String) -> BPFObjectError {
      .invalidRelocation(file: file, section: section.name, offset: offset, reason: reason)
    }
    let sectionSize = UInt64(section.instructions.count) * 8
    guard offset % 8 == 0, offset < sectionSize else {
      throw .relocationOutOfSection(
        file: file, section: section.name, offset: offset, sectionSize: sectionSize)
    }
    guard symbolIndex < UInt64(elf.symbols.count) else {
      throw .relocationAgainstMissingSymbol(
        file: file, section: section.name, offset: offset,
        symbol: "symbol index \(symbolIndex) (the symbol table has \(elf.symbols.count))")
    }
    let symbol = elf.symbols[Int(symbolIndex)]
    guard symbol.isDefined, let symbolSection = elf.section(Int(symbol.sectionIndex)) else {
      throw .relocationAgainstMissingSymbol(
        file: file, section: section.name, offset: offset,
        symbol: "'\(symbol.name)' (undefined or external symbols are not supported)")
    }
    let index = Int(offset / 8)
    let instruction = section.instructions[index]
    guard
      type == ExecutableSection.Relocation.typeImmediate64
        || type == ExecutableSection.Relocation.typeCall32
    else {
      throw invalid(
        "relocation type \(type) against '\(symbol.name)' is not R_BPF_64_64 or R_BPF_64_32")
    }

    if instruction.isCall {
      guard instruction.isLocalCall else {
        throw invalid(
          "call relocation against '\(symbol.name)' on a call whose src is not 1 (bpf-to-bpf)")
      }
      guard symbolSection.isExecutable, symbol.value % 8 == 0 else {
        throw invalid(
          "call relocation against '\(symbol.name)', which is not code in an executable section")
      }
      let target = Int64(symbol.value / 8) + Int64(instruction.immediate) + 1
      return .init(
        instruction: index, type: type, symbol: symbol.name,
        target: .code(section: symbolSection.index, instruction: Int(target)))
    }
    guard instruction.isWideImmediateLoad, index + 1 < section.instructions.count else {
      throw invalid(
        "relocation against '\(symbol.name)' on an instruction (opcode 0x\(String(instruction.opcode, radix: 16))) that is neither ld_imm64 nor call"
      )
    }
    if symbolSection.isExecutable {
      let (byteOffset, overflow) = symbol.value.addingReportingOverflow(
        UInt64(bitPattern: Int64(instruction.immediate)))
      guard !overflow, byteOffset % 8 == 0 else {
        throw invalid("subprogram address of '\(symbol.name)' is not on an instruction boundary")
      }
      return .init(
        instruction: index, type: type, symbol: symbol.name,
        target: .code(section: symbolSection.index, instruction: Int(byteOffset / 8)))
    }
    if symbolSection.name == ".maps" || symbolSection.name == "maps" {
      guard
        let map = maps.firstIndex(where: {
          $0.sectionIndex == symbolSection.index && $0.offset == symbol.value
        })
      else {
        throw invalid(
          "no map is declared at offset \(symbol.value) of '\(symbolSection.name)' ('\(symbol.name)')"
        )
      }
      return .init(instruction: index, type: type, symbol: symbol.name, target: .map(map))
    }
    if MapReader.isGlobalData(symbolSection),
      let map = maps.firstIndex(where: {
        $0.origin == .globalData && $0.sectionIndex == symbolSection.index
      })
    {
      let valueOffset = Int64(instruction.immediate) + Int64(clamping: symbol.value)
      guard let offset32 = Int32(exactly: valueOffset), offset32 >= 0,
        UInt64(offset32) <= symbolSection.size
      else {
        throw invalid(
          "offset \(valueOffset) of '\(symbol.name)' lies outside section '\(symbolSection.name)'")
      }
      return .init(
        instruction: index, type: type, symbol: symbol.name,
        target: .mapValue(map, offset: offset32))
    }
    throw invalid(
      "'\(symbol.name)' is in section '\(symbolSection.name)', which is neither a map section (.maps, maps) nor global data (.data, .rodata, .bss)"
    )
  }
}
