import BPF
import Testing

@testable import Engine

/// ``MapValuePointers``: an access within an array map's value, through
/// the pointer `map_lookup_elem` returned and the program checked for 0,
/// goes unchecked in the JIT; anything else is checked as before. Every
/// case runs in both engines and must end alike: the same R0, or the same
/// fault (instruction, address, size).
@Suite struct MapValueProofTests {
  /// 16-byte values, two entries: key 1's value ends where the map's
  /// region ends, so one byte past it faults in the interpreter.
  static let array = MapDefinition(
    name: "values", type: .array, keySize: 4, valueSize: 16, maxEntries: 2)

  /// `r0 = lookup(values, key)`, then `body` with R0 the value, when it
  /// is not 0 unless `checked` is false; R0 = 7 on a miss.
  static func program(key: Int32, checked: Bool = true, _ body: [Instruction]) -> [Instruction] {
    var program: [Instruction] = [
      .store(.word, immediate: key, to: .r10, offset: -4), .move(.r2, .r10),
      .add(.r2, immediate: -4),
    ]
    program += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
    program.append(.call(helper: HelperFunction.mapLookupElement.rawValue))
    if checked { program.append(.jump(.jeq, .r0, immediate: 0, offset: Int16(body.count + 1))) }
    return program + body + [.exit, .move(.r0, immediate: 7), .exit]
  }

  /// The slot of `program`'s first instruction after the null check.
  static let bodyStart = 7

  static func expectAlike(
    _ instructions: [Instruction], _ expected: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let interpreted = try JITTests.outcome(instructions, engine: .interpreter, maps: [Self.array])
    let compiled = try JITTests.outcome(instructions, engine: .jit, maps: [Self.array])
    #expect(compiled == interpreted, sourceLocation: sourceLocation)
    #expect(compiled.0.contains(expected), "\(compiled.0)", sourceLocation: sourceLocation)
  }

  /// Whether the JIT leaves the access at `slot` of `instructions` unchecked.
  static func proven(
    _ instructions: [Instruction], slot: Int, register: UInt8 = 0, offset: Int32, size: Int
  )
    throws -> Bool
  {
    let machine = try Machine(maps: [Self.array], configuration: MachineConfiguration(engine: .jit))
    let program = try machine.prepare(instructions: instructions)
    let pointers = MapValuePointers(
      slots: program.slots, count: program.count + 1,
      storage: .init(maps: machine.maps, processor: 0, space: machine.addressSpace))
    return pointers.proves(register, offset, size: size, write: true, at: slot)
  }

  @Test func accessesWithinTheValueAreProvenAndAgree() throws {
    let body: [Instruction] = [
      .move(.r3, immediate: 0x55), .store(.doubleWord, .r3, to: .r0, offset: 8),
      .load(.doubleWord, .r0, from: .r0, offset: 8),
    ]
    for key: Int32 in [0, 1] {
      try Self.expectAlike(Self.program(key: key, body), "R0 = 85")
    }
    #expect(
      try Self.proven(Self.program(key: 1, body), slot: Self.bodyStart + 1, offset: 8, size: 8))
    // A key past max_entries: R0 = 0, the check sends it to R0 = 7.
    try Self.expectAlike(Self.program(key: 2, body), "R0 = 7")
  }

  @Test func oneBytePastTheValueIsCheckedAndFaultsAlike() throws {
    // [9, 17) of key 1's value: its last byte is the region's first past the end.
    let past = Self.program(key: 1, [.load(.doubleWord, .r0, from: .r0, offset: 9)])
    #expect(try !Self.proven(past, slot: Self.bodyStart, offset: 9, size: 8))
    try Self.expectAlike(past, "read of 8 bytes")
    // Moved by 13, a 4-byte read at 0 is [13, 17): checked; by 12 it is proven.
    let moved = Self.program(
      key: 1, [.add(.r0, immediate: 13), .load(.word, .r0, from: .r0, offset: 0)])
    #expect(try !Self.proven(moved, slot: Self.bodyStart + 1, offset: 0, size: 4))
    try Self.expectAlike(moved, "read of 4 bytes")
    let inside = Self.program(
      key: 1, [.add(.r0, immediate: 12), .load(.word, .r0, from: .r0, offset: 0)])
    #expect(try Self.proven(inside, slot: Self.bodyStart + 1, offset: 0, size: 4))
    try Self.expectAlike(inside, "R0 = 0")
    // Below the value: checked (key 0's value starts the region).
    let below = Self.program(key: 0, [.load(.byte, .r0, from: .r0, offset: -1)])
    #expect(try !Self.proven(below, slot: Self.bodyStart, offset: -1, size: 1))
    try Self.expectAlike(below, "read of 1 bytes")
  }

  @Test func withoutTheNullCheckOrAfterACallNothingIsProven() throws {
    // Unchecked R0 from a missing key is 0: the read faults at 0 in both.
    let unchecked = Self.program(key: 2, checked: false, [.load(.word, .r0, from: .r0, offset: 0)])
    #expect(try !Self.proven(unchecked, slot: Self.bodyStart - 1, offset: 0, size: 4))
    try Self.expectAlike(unchecked, "read of 4 bytes at 0x0")
    // R6 = the value; another call in between forgets it.
    let afterCall = Self.program(
      key: 1,
      [
        .move(.r6, .r0), .call(helper: HelperFunction.ktimeGetNanoseconds.rawValue),
        .load(.word, .r0, from: .r6, offset: 0),
      ])
    #expect(try Self.proven(afterCall, slot: Self.bodyStart + 1, register: 6, offset: 0, size: 4))
    #expect(try !Self.proven(afterCall, slot: Self.bodyStart + 2, register: 6, offset: 0, size: 4))
    try Self.expectAlike(afterCall, "R0 = 0")
  }

  /// A hash map of one 8-byte value: its values region is 8 bytes long.
  static let hash = MapDefinition(
    name: "counts", type: .hash, keySize: 4, valueSize: 8, maxEntries: 1)

  /// `update(counts, 0, 5)`, `r0 = lookup(counts, 0)`, then `body` when R0 is not 0.
  static func hashProgram(_ body: [Instruction]) -> [Instruction] {
    var program: [Instruction] = [
      .store(.word, immediate: 0, to: .r10, offset: -4),
      .store(.doubleWord, immediate: 5, to: .r10, offset: -16),
      .move(.r2, .r10), .add(.r2, immediate: -4), .move(.r3, .r10), .add(.r3, immediate: -16),
    ]
    program += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
    program += [
      .move(.r4, immediate: 0), .call(helper: HelperFunction.mapUpdateElement.rawValue),
      .move(.r2, .r10), .add(.r2, immediate: -4),
    ]
    program += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
    program += [
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: Int16(body.count + 1)),
    ]
    return program + body + [.exit, .move(.r0, immediate: 7), .exit]
  }

  @Test func aHashMapsValueIsProvenToItsSize() throws {
    let bodyStart = 16
    func alike(_ body: [Instruction], _ expected: String, proven: Bool, offset: Int32, size: Int)
      throws
    {
      let program = Self.hashProgram(body)
      let interpreted = try JITTests.outcome(program, engine: .interpreter, maps: [Self.hash])
      let compiled = try JITTests.outcome(program, engine: .jit, maps: [Self.hash])
      #expect(compiled == interpreted)
      #expect(compiled.0.contains(expected), "\(compiled.0)")
      let machine = try Machine(
        maps: [Self.hash], configuration: MachineConfiguration(engine: .jit))
      let prepared = try machine.prepare(instructions: program)
      let pointers = MapValuePointers(
        slots: prepared.slots, count: prepared.count + 1,
        storage: .init(maps: machine.maps, processor: 0, space: machine.addressSpace))
      #expect(pointers.proves(0, offset, size: size, write: true, at: bodyStart) == proven)
    }
    // An atomic add to the value, as a counter does, then its read.
    try alike(
      [
        .move(.r1, immediate: 2),
        Instruction(
          opcode: Opcode.memory(.stx, .atomic, .doubleWord), dst: .r0, src: .r1, offset: 0,
          immediate: 0),  // lock add
        .load(.doubleWord, .r0, from: .r0, offset: 0),
      ], "R0 = 7", proven: true, offset: 0, size: 8)
    try alike(
      [.load(.doubleWord, .r0, from: .r0, offset: 0)], "R0 = 5", proven: true, offset: 0, size: 8)
    // [1, 9): one byte past the value and the region.
    try alike(
      [.load(.doubleWord, .r0, from: .r0, offset: 1)], "read of 8 bytes", proven: false, offset: 1,
      size: 8)
  }
}
