import BPF
import Engine
import Testing

@testable import Lab

/// The call-style driver the bench measures the talk's experiment with.
@Suite struct DispatchLoopTests {
  /// A program that adds R2 to a counter in an array map on every call
  /// and passes the packet.
  static func counting(_ machine: Machine) throws -> PreparedProgram {
    var code: [Instruction] = [
      .move(.r6, .r2), .store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10),
      .add(.r2, immediate: -4),
    ]
    code += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
    code += [
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: 3),
      .load(.doubleWord, .r1, from: .r0, offset: 0), .arithmetic(.add, .r1, .r6),
      .store(.doubleWord, .r1, to: .r0, offset: 0), .move(.r0, immediate: 2), .exit,
    ]
    return try machine.prepare(instructions: code)
  }

  static let counts = MapDefinition(
    name: "c", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)

  /// The program's code starts a page after the driver's in every style,
  /// as the engine's own copy of it starts a page: the bench times the
  /// placement the runners run.
  @Test(arguments: CallStyle.allCases)
  func theProgramStartsAPage(_ style: CallStyle) {
    let driver = DispatchLoop.driver(style: style, r2: 64)
    #expect(driver.count == 4096, "\(style)")
    #expect(driver.count < 200 || driver[200...].allSatisfy { $0 == 0xcc }, "int3 padding")
  }

  /// The driver calls the program once per record, in every style (the
  /// retpoline thunk returns to the right place), with the R2 it was given.
  @Test(arguments: CallStyle.allCases, [Int32(1), 3])
  func callsOncePerRecordWithR2(_ style: CallStyle, r2: Int32) throws {
    let machine = try Machine(
      maps: [Self.counts], configuration: MachineConfiguration(engine: .jit))
    let loop = try DispatchLoop(
      machine: machine, program: try Self.counting(machine), style: style, r2: r2)
    try loop.run(records: [UInt64](repeating: 0, count: 1000))
    let expected = withUnsafeBytes(of: UInt64(1000 * r2).littleEndian) { Array($0) }
    #expect(machine.maps[0].lookup(key: BPFMap.key(0)) == expected, "\(style)")
  }

  /// A call that faults stops the loop, and the run throws the fault with
  /// the instruction the interpreter would name.
  @Test(arguments: CallStyle.allCases)
  func aFaultStopsTheLoopAndIsThrown(_ style: CallStyle) throws {
    let machine = try Machine(
      maps: [Self.counts], configuration: MachineConfiguration(engine: .jit))
    // Counts the call, then reads through R1 (the record, here an
    // address with no region): the first call faults at instruction 11.
    var code: [Instruction] = [
      .store(.word, immediate: 0, to: .r10, offset: -4), .move(.r6, .r1), .move(.r2, .r10),
      .add(.r2, immediate: -4),
    ]
    code += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
    code += [
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: 3),
      .load(.doubleWord, .r1, from: .r0, offset: 0), .add(.r1, immediate: 1),
      .store(.doubleWord, .r1, to: .r0, offset: 0), .load(.word, .r0, from: .r6, offset: 0),
      .exit,
    ]
    let program = try machine.prepare(instructions: code)
    let loop = try DispatchLoop(machine: machine, program: program, style: style)
    #expect(throws: ExecutionError.memoryFault(index: 11, address: 0x10, size: 4, write: false)) {
      try loop.run(records: [UInt64](repeating: 0x10, count: 5))
    }
    let once = withUnsafeBytes(of: UInt64(1).littleEndian) { Array($0) }
    #expect(machine.maps[0].lookup(key: BPFMap.key(0)) == once, "\(style)")
  }
}
