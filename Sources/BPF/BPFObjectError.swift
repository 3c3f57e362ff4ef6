/// Why an object file could not be read, or a program in it could not be
/// linked.
///
/// Every case names the file, and where it applies the section, map or
/// program, so that the message alone tells the user what to fix.
public enum BPFObjectError: Error, Equatable, Sendable {
  /// The file could not be read at all.
  case unreadable(file: String, reason: String)
  /// The file does not start with the ELF magic.
  case notELF(file: String)
  /// Bytes the reader needs lie past the end of the file or of a region.
  case truncated(file: String, region: String, offset: UInt64, length: UInt64, available: UInt64)
  /// The ELF class is not 64-bit.
  case unsupportedClass(file: String, elfClass: UInt8)
  /// The ELF data encoding is not little-endian.
  case unsupportedByteOrder(file: String, encoding: UInt8)
  /// The object is for another machine than BPF (247).
  case wrongMachine(file: String, machine: UInt16)
  /// The object is not relocatable (`ET_REL`), as a compiled BPF object is.
  case notRelocatable(file: String, type: UInt16)
  /// A structural field of the ELF header or a section header is invalid.
  case malformedHeader(file: String, reason: String)
  /// A section's contents lie outside the file.
  case sectionOutOfBounds(file: String, section: String, offset: UInt64, size: UInt64)
  /// A name offset points outside its string table or to an unterminated string.
  case stringOutOfBounds(file: String, table: String, offset: UInt64)
  /// A symbol is malformed (bad section index, placement or size).
  case malformedSymbol(file: String, symbol: String, reason: String)
  /// The `.BTF` or `.BTF.ext` section is not valid BTF.
  case invalidBTF(file: String, section: String, reason: String)
  /// A map declaration cannot be read.
  case invalidMap(file: String, map: String, reason: String)
  /// A function in an executable section is malformed or unsupported.
  case invalidProgram(file: String, section: String, program: String, reason: String)
  /// A relocation names a symbol index the symbol table does not have, or an
  /// undefined (external) symbol.
  case relocationAgainstMissingSymbol(file: String, section: String, offset: UInt64, symbol: String)
  /// A relocation points outside its target section, or between instructions.
  case relocationOutOfSection(file: String, section: String, offset: UInt64, sectionSize: UInt64)
  /// A relocation is of an unsupported type, or applies to an instruction it
  /// cannot patch.
  case invalidRelocation(file: String, section: String, offset: UInt64, reason: String)
  /// The program needs CO-RE relocations, which this reader does not apply.
  case coreRelocationsUnsupported(file: String, program: String, count: Int)
  /// A bpf-to-bpf call (or subprogram address) cannot be resolved.
  case unresolvedCall(
    file: String, program: String, function: String, instruction: Int, reason: String)
  /// No program has the requested name.
  case unknownProgram(file: String, name: String, available: [String])
  /// The program exists but is not in an XDP section (`socket`, `tc`):
  /// the engine, the rewriter and `attach` handle XDP programs only.
  case notXDPProgram(file: String, name: String, section: String)
}

extension BPFObjectError: CustomStringConvertible {
  /// A one-line message: `file: where: what is wrong`.
  public var description: String {
    switch self {
    case .unreadable(let file, let reason):
      "\(file): cannot read the file: \(reason)"
    case .notELF(let file):
      "\(file): not an ELF file (no \\x7fELF magic); expected a BPF object compiled with clang -target bpf"
    case .truncated(let file, let region, let offset, let length, let available):
      "\(file): truncated: \(region) needs \(length) bytes at offset \(offset), but only \(available) exist"
    case .unsupportedClass(let file, let elfClass):
      "\(file): ELF class \(elfClass) is not ELF64 (2); BPF objects are 64-bit"
    case .unsupportedByteOrder(let file, let encoding):
      "\(file): ELF data encoding \(encoding) is not little-endian (1); recompile with -target bpfel or bpf on a little-endian host"
    case .wrongMachine(let file, let machine):
      "\(file): ELF machine \(machine)\(Self.machineName(machine)) is not BPF (247); compile with clang -target bpf"
    case .notRelocatable(let file, let type):
      "\(file): ELF type \(type) is not a relocatable object (ET_REL, 1); pass the .o that clang -c produced"
    case .malformedHeader(let file, let reason):
      "\(file): malformed ELF: \(reason)"
    case .sectionOutOfBounds(let file, let section, let offset, let size):
      "\(file): section '\(section)' (offset \(offset), size \(size)) lies outside the file"
    case .stringOutOfBounds(let file, let table, let offset):
      "\(file): string at offset \(offset) is outside string table \(table) or not NUL-terminated"
    case .malformedSymbol(let file, let symbol, let reason):
      "\(file): symbol '\(symbol)': \(reason)"
    case .invalidBTF(let file, let section, let reason):
      "\(file): section '\(section)': invalid BTF: \(reason)"
    case .invalidMap(let file, let map, let reason):
      "\(file): map '\(map)': \(reason)"
    case .invalidProgram(let file, let section, let program, let reason):
      "\(file): section '\(section)', program '\(program)': \(reason)"
    case .relocationAgainstMissingSymbol(let file, let section, let offset, let symbol):
      "\(file): section '\(section)': relocation at offset \(offset) refers to \(symbol), which is not defined in this object"
    case .relocationOutOfSection(let file, let section, let offset, let size):
      "\(file): section '\(section)': relocation at offset \(offset) is outside the section (\(size) bytes) or not on an instruction boundary"
    case .invalidRelocation(let file, let section, let offset, let reason):
      "\(file): section '\(section)': relocation at offset \(offset) (instruction \(offset / 8)): \(reason)"
    case .coreRelocationsUnsupported(let file, let program, let count):
      "\(file): program '\(program)': CO-RE relocations are not supported (\(count) in .BTF.ext); compile without BPF_CORE_READ/preserve_access_index"
    case .unresolvedCall(let file, let program, let function, let instruction, let reason):
      "\(file): program '\(program)': function '\(function)', instruction \(instruction): \(reason)"
    case .unknownProgram(let file, let name, let available):
      "\(file): no program named '\(name)'; available: \(available.isEmpty ? "none" : available.joined(separator: ", "))"
    case .notXDPProgram(let file, let name, let section):
      "\(file): program '\(name)' is in section '\(section)', not an XDP section (xdp, xdp/..., xdp.frags)"
    }
  }

  private static func machineName(_ machine: UInt16) -> String {
    switch machine {
    case 3: " (x86)"
    case 62: " (x86-64)"
    case 40: " (ARM)"
    case 183: " (AArch64)"
    case 243: " (RISC-V)"
    default: ""
    }
  }
}
