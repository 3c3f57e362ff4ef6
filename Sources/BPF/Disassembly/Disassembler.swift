/// Renders eBPF instructions as text, exactly as LLVM 21's `llvm-objdump -d`
/// prints the instruction column for BPF objects (its default `-mcpu`, where
/// 32-bit and narrower loads and stores name `w` registers), so that a
/// listing can be compared with objdump's line by line.
///
/// ```
/// w0 = 0x0
/// if r3 > r2 goto +0xe
/// w1 = *(u16 *)(r1 + 0x16)
/// r1 = 0x0 ll
/// lock *(u32 *)(r1 + 0x0) += w2
/// ```
///
/// Two optional namers make linked programs readable; they change the text
/// away from objdump's only where objdump has nothing better to say:
/// - ``mapName``: an `ld_imm64` of kind ``ImmediateLoadKind/mapByIndex``
///   prints as `r1 = map[rxcnt] ll`, and one of kind
///   ``ImmediateLoadKind/mapValueByIndex`` as `r1 = map_value[rxcnt] ll` or,
///   with a value offset, `r1 = map_value[rxcnt] + 0x8 ll` (objdump prints
///   both as `ld_pseudo r1, 0x5, 0x0`).
/// - ``subprogramName``: a local call prints as `call classify_ipv4` instead
///   of `call 0x12`.
///
/// Encodings that LLVM does not decode print as `<unknown>`, one slot each,
/// as objdump does; so do LLVM's own extensions outside RFC 9669 (`callx`,
/// `may_goto`, `addr_space_cast`, `load_acquire`, `store_release`). Where
/// LLVM ignores a field that RFC 9669 requires to be zero, so does this
/// (``InstructionValidator`` checks those fields).
public struct Disassembler: Sendable {
  /// How numbers are written.
  public var numberStyle: NumberStyle
  /// Names the map with the given index in the object's map table, for
  /// `ld_imm64` map references; `nil` falls back to objdump's `ld_pseudo`.
  public var mapName: (@Sendable (Int) -> String?)?
  /// Names the subprogram that starts at the given instruction index, for
  /// local calls; `nil` falls back to the call's relative immediate.
  public var subprogramName: (@Sendable (Int) -> String?)?

  /// Makes a disassembler; with no arguments its output matches
  /// `llvm-objdump -d`.
  public init(
    numberStyle: NumberStyle = .hexadecimal,
    mapName: (@Sendable (Int) -> String?)? = nil,
    subprogramName: (@Sendable (Int) -> String?)? = nil
  ) {
    self.numberStyle = numberStyle
    self.mapName = mapName
    self.subprogramName = subprogramName
  }

  /// A disassembler that names the maps of `maps` (the object's map table,
  /// which the program's map references index) and the program's
  /// subprograms, including the program itself at index 0.
  public init(
    naming program: Program, maps: [MapDefinition], numberStyle: NumberStyle = .hexadecimal
  ) {
    let mapNames = maps.map(\.name)
    var functions = [0: program.name]
    for subprogram in program.subprograms { functions[subprogram.start] = subprogram.name }
    self.init(
      numberStyle: numberStyle,
      mapName: { mapNames.indices.contains($0) ? mapNames[$0] : nil },
      subprogramName: { [functions] in functions[$0] })
  }

  /// One line of a listing: an instruction and its text.
  public struct Line: Hashable, Sendable {
    /// Index of the instruction's first slot.
    public var index: Int
    /// Slots the line covers: 2 for `ld_imm64`, else 1.
    public var slotCount: Int
    /// The instruction text, as objdump prints it after the raw bytes.
    public var text: String

    /// Describes a line.
    public init(index: Int, slotCount: Int, text: String) {
      self.index = index
      self.slotCount = slotCount
      self.text = text
    }
  }

  /// The text for `unknown` encodings, as objdump prints it.
  public static let unknown = "<unknown>"

  /// Disassembles a whole stream: one line per instruction, where an
  /// `ld_imm64` is one line covering both its slots. Like LLVM, this takes
  /// the slot after `ld_imm64` as its second half whatever it holds.
  public func lines(_ instructions: [Instruction]) -> [Line] {
    var lines: [Line] = []
    var index = 0
    while index < instructions.count {
      let next = index + 1 < instructions.count ? instructions[index + 1] : nil
      let line = self.line(instructions[index], next: next, at: index)
      lines.append(line)
      index += line.slotCount
    }
    return lines
  }

  /// Disassembles the instruction at `index`; `next` is the slot after it,
  /// needed only when this one is `ld_imm64`.
  public func line(_ instruction: Instruction, next: Instruction?, at index: Int) -> Line {
    if instruction.isWideImmediateLoad {
      guard let next, let text = try? wideLoadText(instruction, next)
      else { return Line(index: index, slotCount: 1, text: Self.unknown) }
      return Line(index: index, slotCount: 2, text: text)
    }
    return Line(index: index, slotCount: 1, text: text(of: instruction, at: index) ?? Self.unknown)
  }

  /// The text of a one-slot instruction, or `nil` if LLVM does not decode it.
  func text(of instruction: Instruction, at index: Int) -> String? {
    try? renderedText(of: instruction, at: index)
  }

  private func renderedText(of instruction: Instruction, at index: Int) throws(Undecodable)
    -> String
  {
    switch instruction.instructionClass {
    case .alu, .alu64: try arithmeticText(instruction)
    case .jmp, .jmp32: try jumpText(instruction, at: index)
    case .ld: try packetLoadText(instruction)
    case .ldx: try loadText(instruction)
    case .st: try storeImmediateText(instruction)
    case .stx: try storeRegisterText(instruction)
    }
  }

  /// A register as a 64-bit (`r1`) or 32-bit (`w1`) operand; LLVM decodes
  /// no instruction that names a register above R10.
  func name(_ register: Register, wide: Bool) throws(Undecodable) -> String {
    guard register.isValid else { throw Undecodable() }
    return (wide ? "r" : "w") + String(register.rawValue)
  }

  /// A memory operand `(r2 - 0x8)`, `(r1 + 0x0)`: the base register and a
  /// displacement whose sign becomes the operator.
  func address(_ base: Register, _ displacement: Int16) throws(Undecodable) -> String {
    let operation = displacement < 0 ? "-" : "+"
    let magnitude = numberStyle.format(magnitude: UInt64(displacement.magnitude))
    return "(\(try name(base, wide: true)) \(operation) \(magnitude))"
  }
}

/// Raised inside the disassembler for an encoding that LLVM does not
/// decode; it becomes ``Disassembler/unknown``.
struct Undecodable: Error {}
