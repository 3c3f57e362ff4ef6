/// One section of an object that holds instructions (`xdp`, `.text`, ...),
/// as compiled: raw instructions, the functions defined in it, and its
/// relocations, resolved against the object's symbols and maps.
///
/// The disassembler prints ``instructions`` as they are in the file; the
/// linker builds ``Program`` values from ``functions`` and ``relocations``.
public struct ExecutableSection: Hashable, Sendable {
  /// The section name.
  public var name: String
  /// The ELF section index.
  public var index: Int
  /// The instructions exactly as stored in the file.
  public var instructions: [Instruction]
  /// The functions (`STT_FUNC` symbols) defined in the section, by start.
  public var functions: [Function]
  /// The section's relocations, by instruction.
  public var relocations: [Relocation]

  /// One function symbol: a program, or a subprogram others call.
  public struct Function: Hashable, Sendable {
    /// The symbol name.
    public var name: String
    /// Index of its first instruction in the section.
    public var start: Int
    /// Number of instruction slots.
    public var length: Int
    /// Whether the symbol is global (or weak), as programs are.
    public var isGlobal: Bool
  }

  /// A relocation of one instruction.
  public struct Relocation: Hashable, Sendable {
    /// `R_BPF_64_64`: a 64-bit immediate load.
    public static let typeImmediate64: UInt32 = 1
    /// `R_BPF_64_32`: a call's 32-bit immediate.
    public static let typeCall32: UInt32 = 10

    /// Index of the relocated instruction in the section.
    public var instruction: Int
    /// The ELF relocation type.
    public var type: UInt32
    /// The symbol it refers to.
    public var symbol: String
    /// What the instruction refers to once resolved.
    public var target: Target

    /// What a relocated instruction refers to.
    public enum Target: Hashable, Sendable {
      /// A map, by index in ``BPFObject/maps``.
      case map(Int)
      /// A byte offset into the value of a map (global data).
      case mapValue(Int, offset: Int32)
      /// An instruction of an executable section (a call target or a
      /// subprogram address), by section index and instruction index.
      case code(section: Int, instruction: Int)
    }
  }

  /// The function that contains instruction `index`.
  public func function(containing index: Int) -> Function? {
    functions.first { index >= $0.start && index < $0.start + $0.length }
  }

  /// The relocation of instruction `index`, if any.
  public func relocation(at index: Int) -> Relocation? {
    relocations.first { $0.instruction == index }
  }
}

extension ExecutableSection {
  /// Reads an executable section's instructions and function symbols.
  init(_ section: ELFSection, elf: ELFFile) throws(BPFObjectError) {
    name = section.name
    index = section.index
    let data = section.data?.contents ?? []
    guard data.count % Instruction.size == 0 else {
      throw .invalidProgram(
        file: elf.file, section: section.name, program: "*",
        reason: "section size \(data.count) is not a multiple of the 8-byte instruction size")
    }
    do {
      instructions = try Instruction.decode(littleEndian: data)
    } catch {
      throw .invalidProgram(file: elf.file, section: section.name, program: "*", reason: "\(error)")
    }
    var functions: [Function] = []
    for symbol in elf.symbols
    where Int(symbol.sectionIndex) == section.index && symbol.type == ELFSymbol.typeFunction {
      func invalid(_ reason: String) -> BPFObjectError {
        .invalidProgram(file: elf.file, section: section.name, program: symbol.name, reason: reason)
      }
      guard symbol.value % 8 == 0, symbol.size % 8 == 0, symbol.size > 0 else {
        throw invalid(
          "offset \(symbol.value) and size \(symbol.size) must be non-zero multiples of 8 bytes")
      }
      let (end, overflow) = symbol.value.addingReportingOverflow(symbol.size)
      guard !overflow, end <= section.size else {
        throw invalid(
          "code at offset \(symbol.value), \(symbol.size) bytes, crosses the end of the section (\(section.size) bytes)"
        )
      }
      let isGlobal = symbol.binding != ELFSymbol.bindingLocal
      guard isGlobal || section.name == ".text" else {
        throw invalid(
          "static programs are not supported (libbpf refuses them too); remove 'static'")
      }
      functions.append(
        Function(
          name: symbol.name, start: Int(symbol.value / 8), length: Int(symbol.size / 8),
          isGlobal: isGlobal))
    }
    self.functions = functions.sorted { $0.start < $1.start }
    relocations = []
  }
}
