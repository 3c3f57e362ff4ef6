import BPF
import Testing

@testable import Engine

/// The packet ranges the JIT leaves unchecked (``PacketRanges``): what the
/// analysis proves, to the byte, and that the JIT's code runs like the
/// interpreter's when the program's context lies about its packet.
@Suite struct PacketRangeTests {
  /// `r2 = data; r3 = data_end; r4 = r2 + bytes; R0 = 0; if <compare>
  /// goto drop; accesses; tail; drop: exit`, with the compare as given
  /// (`pointerFirst`: `r4 op r3`, else `r3 op r4`). The accesses start at
  /// slot 6; the drop exit is the last slot.
  static func parser(
    bytes: Int32, _ operation: JumpOperation = .jgt, pointerFirst: Bool = true,
    accesses: [Instruction], tail: [Instruction] = [.move(.r0, immediate: 1), .exit]
  ) -> [Instruction] {
    let skip = Int16(accesses.count + tail.count)
    let compare: Instruction =
      pointerFirst
      ? .jump(operation, .r4, .r3, offset: skip) : .jump(operation, .r3, .r4, offset: skip)
    return [
      .load(.word, .r2, from: .r1, offset: 0),
      .load(.word, .r3, from: .r1, offset: 4),
      .move(.r4, .r2),
      .add(.r4, immediate: bytes),
      .move(.r0, immediate: 0),
      compare,
    ] + accesses + tail + [.exit]
  }

  static func ranges(_ instructions: [Instruction]) throws -> PacketRanges {
    let machine = try Machine(configuration: MachineConfiguration(engine: .interpreter))
    let program = try machine.prepare(instructions: instructions)
    return PacketRanges(slots: program.slots, count: program.count + 1)
  }

  @Test func aCompareWithDataEndProvesItsBytesAndNotOneMore() throws {
    let ranges = try Self.ranges(
      Self.parser(bytes: 14, accesses: [.load(.byte, .r5, from: .r2, offset: 13)]))
    #expect(ranges.value(of: 2, at: 6) == .packet(0))
    #expect(ranges.value(of: 3, at: 6) == .packetEnd)
    #expect(ranges.proves(2, 13, size: 1, at: 6))
    #expect(ranges.proves(2, 12, size: 2, at: 6))
    #expect(ranges.proves(2, 6, size: 8, at: 6))
    #expect(!ranges.proves(2, 13, size: 2, at: 6))
    #expect(!ranges.proves(2, 14, size: 1, at: 6))
    #expect(!ranges.proves(2, -1, size: 1, at: 6))
    #expect(ranges.proves(4, -1, size: 1, at: 6))
    #expect(!ranges.proves(4, 0, size: 1, at: 6))
    // The other edge (data + 14 > data_end, to the drop exit, slot 9)
    // proves nothing.
    #expect(!ranges.proves(2, 0, size: 1, at: 9))
    #expect(ranges.proofSites[5]?.register == 4 && ranges.proofSites[5]?.bytes == 14)
  }

  @Test func eachFormOfTheCompareProvesOnlyOnTheEdgeWherePointerIsAtMostEnd() throws {
    // jgt and jge with the pointer first, jlt and jle with data_end first
    // prove on the fall-through edge (slot 6), the others on the taken
    // edge (the drop exit, slot 9).
    for (operation, pointerFirst, onFallThrough) in [
      (JumpOperation.jgt, true, true), (.jge, true, true), (.jlt, false, true),
      (.jle, false, true), (.jlt, true, false), (.jle, true, false), (.jgt, false, false),
      (.jge, false, false),
    ] {
      let ranges = try Self.ranges(
        Self.parser(
          bytes: 8, operation, pointerFirst: pointerFirst,
          accesses: [
            .load(.doubleWord, .r5, from: .r2, offset: 0)
          ]))
      let form = "\(operation), pointer first: \(pointerFirst)"
      #expect(ranges.proves(2, 0, size: 8, at: 6) == onFallThrough, "\(form)")
      #expect(ranges.proves(2, 0, size: 8, at: 9) == !onFallThrough, "\(form)")
      #expect(!ranges.proves(2, 1, size: 8, at: 6) && !ranges.proves(2, 1, size: 8, at: 9))
    }
  }

  @Test func callsAndANewDataForgetTheRange() throws {
    // After a helper call (bpf_ktime_get_ns), r2 is no packet pointer and
    // the range is gone; after a new load of data, r6 (a copy of the old
    // data) is no packet pointer.
    let afterCall = try Self.ranges(
      Self.parser(
        bytes: 14,
        accesses: [
          .move(.r6, .r2), .call(helper: 5), .load(.byte, .r5, from: .r6, offset: 0),
        ]))
    #expect(afterCall.proves(6, 0, size: 1, at: 7))
    #expect(!afterCall.proves(6, 0, size: 1, at: 8))
    let afterLoad = try Self.ranges(
      Self.parser(
        bytes: 14,
        accesses: [
          .move(.r6, .r2), .load(.word, .r2, from: .r1, offset: 0),
          .load(.byte, .r5, from: .r6, offset: 0),
        ]))
    #expect(afterLoad.proves(6, 0, size: 1, at: 7))
    #expect(afterLoad.value(of: 6, at: 8) == nil)
    #expect(afterLoad.value(of: 2, at: 8) == .packet(0))
    #expect(!afterLoad.proves(2, 0, size: 1, at: 8))
  }

  /// The batch form's shape: the record cursor spilled to the stack, the
  /// body parsing through the cursor, the step `r1 += step` stored back,
  /// and a back edge to the fill.
  static func batchLoop(step: Int32, clobber: Instruction? = nil) -> [Instruction] {
    [
      .move(.r6, immediate: 4),
      .store(.doubleWord, .r1, to: .r10, offset: -8),
      .load(.doubleWord, .r1, from: .r10, offset: -8),  // 2: the loop head
      .load(.word, .r2, from: .r1, offset: 0),
      .load(.word, .r3, from: .r1, offset: 4),
      .move(.r4, .r2),
      .add(.r4, immediate: 14),
      .jump(.jgt, .r4, .r3, offset: 1),
      .load(.byte, .r0, from: .r2, offset: 13),  // 8
      .load(.doubleWord, .r1, from: .r10, offset: -8),
      .add(.r1, immediate: step),
      .store(.doubleWord, .r1, to: .r10, offset: -8),
      clobber ?? .move(.r7, immediate: 0),
      .arithmetic(.sub, .r6, immediate: 1),
      .jump(.jne, .r6, immediate: 0, offset: -13),
      .exit,
    ]
  }

  @Test func theBatchFormsSpilledAndSteppedCursorStaysTheContext() throws {
    #expect(try Self.ranges(Self.batchLoop(step: 32)).proves(2, 13, size: 1, at: 8))
    #expect(try Self.ranges(Self.batchLoop(step: 64)).proves(2, 13, size: 1, at: 8))
    // A step that is not whole records, or a store over the spill slot,
    // leaves the loop head's R1 unknown on the back edge.
    #expect(try !Self.ranges(Self.batchLoop(step: 4)).proves(2, 13, size: 1, at: 8))
    let overwrite = Instruction.store(.word, immediate: 0, to: .r10, offset: -4)
    #expect(
      try !Self.ranges(Self.batchLoop(step: 32, clobber: overwrite)).proves(2, 13, size: 1, at: 8))
    // The first record alone is still proven where the back edge is not.
    #expect(try Self.ranges(Self.batchLoop(step: 4)).value(of: 1, at: 3) == nil)
    // A map lookup writes no memory through its arguments: the spill
    // survives it (xdp1's batch form); xdp_load_bytes may write the stack.
    let lookup = Instruction.helper(.mapLookupElement)
    #expect(try Self.ranges(Self.batchLoop(step: 32, clobber: lookup)).proves(2, 13, size: 1, at: 8))
    let loadBytes = Instruction.helper(.xdpLoadBytes)
    #expect(
      try !Self.ranges(Self.batchLoop(step: 32, clobber: loadBytes)).proves(2, 13, size: 1, at: 8))
  }

  /// The outcome of `instructions` in `engine` with R1 at a 32-byte
  /// context record at the start of a region of `regionBytes`, whose
  /// `data` is `data` bytes from the region's start and `data_end` `end`
  /// bytes (either may be negative).
  static func outcome(
    _ instructions: [Instruction], engine: EngineKind, regionBytes: Int = 96, data: Int64,
    end: Int64
  ) throws -> (String, Int) {
    try JITTests.outcome(instructions, engine: engine) { machine in
      let region = try machine.addressSpace.map(length: regionBytes, name: "test record")
      let bytes = (0..<regionBytes).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
      _ = machine.addressSpace.write(bytes, at: UInt64(region.start))
      let (start, address) = (Int64(region.start), UInt64(region.start))
      #expect(machine.addressSpace.writeWord(UInt32(start + data), at: address))
      #expect(machine.addressSpace.writeWord(UInt32(start + end), at: address + 4))
      return UInt64(region.start)
    }
  }

  static func expectAlike(
    _ instructions: [Instruction], regionBytes: Int = 96, data: Int64, end: Int64,
    outcome expected: String, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let interpreted = try outcome(
      instructions, engine: .interpreter, regionBytes: regionBytes, data: data, end: end)
    let compiled = try outcome(
      instructions, engine: .jit, regionBytes: regionBytes, data: data, end: end)
    #expect(compiled == interpreted, sourceLocation: sourceLocation)
    #expect(compiled.0 == expected, sourceLocation: sourceLocation)
  }

  /// Reads the proven bytes' last byte and the first word, adds them,
  /// stores the sum's low byte as byte 1 and returns the first half-word.
  static let reader: [Instruction] = parser(
    bytes: 40,
    accesses: [
      .load(.byte, .r5, from: .r2, offset: 39), .load(.word, .r6, from: .r2, offset: 0),
      .arithmetic(.add, .r5, .r6), .store(.byte, .r5, to: .r2, offset: 1),
      .load(.halfWord, .r0, from: .r2, offset: 0),
    ], tail: [.exit])

  @Test func provenAccessesRunAsInTheInterpreter() throws {
    // Region byte i holds 7i + 1. data 32 bytes in: b[71] + b[32] =
    // 242 + 225 = 467, low byte 211; R0 = 225 + 211 * 256.
    try Self.expectAlike(Self.reader, data: 32, end: 96, outcome: "R0 = 54241")
    // data_end 39 bytes past data: the compare fails, R0 = 0.
    try Self.expectAlike(Self.reader, data: 32, end: 71, outcome: "R0 = 0")
  }

  @Test func aContextWhoseDataEndLiesFaultsInTheJITAsInTheInterpreter() throws {
    let start = try Self.regionStart()
    func outside(_ address: Int64) -> String {
      "instruction 6: read of 1 bytes at 0x\(String(address, radix: 16)) is out of bounds"
    }
    // data_end past the region's end: the program's compare holds, but
    // byte 39 from data is the first byte past the region.
    try Self.expectAlike(Self.reader, data: 57, end: 200, outcome: outside(start + 96))
    // Exactly to the region's end: allowed. b[95] + b[56] = 154 + 137,
    // low byte 35; R0 = 137 + 35 * 256.
    try Self.expectAlike(Self.reader, data: 56, end: 200, outcome: "R0 = 9097")
    // data in page 0 (never mapped), data_end in the region.
    try Self.expectAlike(Self.reader, data: 16 - start, end: 50, outcome: outside(16 + 39))
    // data in the last page of the 32-bit range, past the space's pages
    // (the guard reads its page's entry without comparing with the page
    // count: 0 there), and data_end past it.
    try Self.expectAlike(
      Self.reader, data: 0xffff_f000 - start, end: 0xffff_ffff - start,
      outcome: outside(0xffff_f000 + 39))
  }

  /// Where the test record's region starts: the first region a fresh
  /// machine maps after its own.
  static func regionStart() throws -> Int64 {
    let machine = try Machine(configuration: MachineConfiguration(engine: .interpreter))
    return Int64(try machine.addressSpace.map(length: 96, name: "probe").start)
  }
}
