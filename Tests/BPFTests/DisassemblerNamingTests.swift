import Testing

@testable import BPF

/// The readable forms for linked programs: map references and local calls
/// by name, and the objdump fallbacks when a name is unknown.
@Suite struct DisassemblerNamingTests {
  static let maps = [
    MapDefinition(name: "rxcnt", type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 256),
    MapDefinition(name: "tx_port", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 64),
  ]

  static let program = Program(
    name: "xdp_main", sectionName: "xdp",
    instructions: Instruction.loadImmediate64(.r1, 1, kind: .mapByIndex)
      + Instruction.loadImmediate64(.r2, 8 << 32, kind: .mapValueByIndex)
      + Instruction.loadImmediate64(.r3, 0, kind: .mapValueByIndex)
      + Instruction.loadImmediate64(.r4, 0xffff_fffc_0000_0000, kind: .mapValueByIndex)
      + Instruction.loadImmediate64(.r5, 7, kind: .mapByIndex)
      + [.call(local: 1), .exit, .call(local: -13), .exit],
    mainLength: 12,
    subprograms: [Program.Subprogram(name: "count_packet", start: 12, length: 1)])

  @Test func namesMapsAndSubprograms() {
    let lines = Disassembler(naming: Self.program, maps: Self.maps).lines(Self.program.instructions)
    #expect(
      lines.map(\.text) == [
        "r1 = map[tx_port] ll",
        "r2 = map_value[rxcnt] + 0x8 ll",
        "r3 = map_value[rxcnt] ll",
        "r4 = map_value[rxcnt] - 0x4 ll",
        "ld_pseudo\tr5, 0x5, 0x7",  // no map 7: objdump's form
        "call count_packet",
        "exit",
        "call xdp_main",
        "exit",
      ])
    #expect(lines.map(\.index) == [0, 2, 4, 6, 8, 10, 11, 12, 13])
  }

  @Test func decimalOffsetsInNamedForms() {
    let lines = Disassembler(naming: Self.program, maps: Self.maps, numberStyle: .decimal)
      .lines(Self.program.instructions)
    #expect(lines[1].text == "r2 = map_value[rxcnt] + 8 ll")
  }

  @Test func withoutNamesPrintsObjdumpForms() {
    let lines = Disassembler().lines(Self.program.instructions)
    #expect(lines[0].text == "ld_pseudo\tr1, 0x5, 0x1")
    #expect(lines[1].text == "ld_pseudo\tr2, 0x6, 0x0")
    #expect(lines[5].text == "call 0x1")
    #expect(lines[7].text == "call -0xd")
  }

  @Test func unknownSlotsAreOneLineEach() {
    let lines = Disassembler().lines([
      Instruction(opcode: 0x8c), Instruction(opcode: 0x18, offset: 1), .exit,
    ])
    #expect(lines.map(\.text) == ["<unknown>", "<unknown>", "exit"])
    let truncated = Disassembler().lines([.exit, Instruction(opcode: 0x18, dst: .r1)])
    #expect(truncated.map(\.text) == ["exit", "<unknown>"])
    #expect(truncated.map(\.slotCount) == [1, 1])
  }
}
