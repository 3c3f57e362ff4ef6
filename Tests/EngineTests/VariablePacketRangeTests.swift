import BPF
import Testing

@testable import Engine

/// Packet pointers with a variable part (``PacketRanges``): `data` plus a
/// scalar the program bounds (xdp1's `data + nh_off`), proven by the
/// program's own compare with `data_end` as the verifier does, to the
/// byte, and run like the interpreter when the context lies.
@Suite struct VariablePacketRangeTests {
  /// `r2 = data; r3 = data_end; r5 = 14; if r2 == r3 goto +1; r5 = 18;
  /// r2 += r5; r4 = r2 + bytes; R0 = 0; if r4 > r3 goto drop; accesses;
  /// tail; drop: exit`. The add is slot 5, the compare slot 8, the
  /// accesses start at slot 9. With data_end at data, the variable part
  /// is 14, else 18.
  static func parser(
    bytes: Int32, accesses: [Instruction],
    tail: [Instruction] = [.move(.r0, immediate: 1), .exit]
  ) -> [Instruction] {
    [
      .load(.word, .r2, from: .r1, offset: 0),
      .load(.word, .r3, from: .r1, offset: 4),
      .move(.r5, immediate: 14),
      .jump(.jeq, .r2, .r3, offset: 1),
      .move(.r5, immediate: 18),
      .arithmetic(.add, .r2, .r5),
      .move(.r4, .r2),
      .add(.r4, immediate: bytes),
      .jump(.jgt, .r4, .r3, offset: Int16(accesses.count + tail.count)),
    ] + accesses + tail + [.move(.r0, immediate: 0), .exit]
  }

  @Test func aCompareProvesTheBytesFromDataPlusTheVariablePartAndNotOneMore() throws {
    let ranges = try PacketRangeTests.ranges(
      Self.parser(bytes: 20, accesses: [.load(.byte, .r6, from: .r2, offset: 19)]))
    #expect(ranges.value(of: 5, at: 5) == .scalar(low: 14, high: 18))
    #expect(ranges.value(of: 2, at: 9) == .variablePacket(variable: 5, offset: 0))
    #expect(ranges.value(of: 4, at: 9) == .variablePacket(variable: 5, offset: 20))
    #expect(ranges.proves(2, 19, size: 1, at: 9))
    #expect(ranges.proves(2, 12, size: 8, at: 9))
    #expect(ranges.proves(4, -20, size: 4, at: 9))
    #expect(!ranges.proves(2, 20, size: 1, at: 9))
    #expect(!ranges.proves(2, 19, size: 2, at: 9))
    #expect(!ranges.proves(2, -1, size: 1, at: 9))
    // Bytes from data itself are not proven by a compare of data + V.
    #expect(!ranges.proves(3, 0, size: 1, at: 9))
    #expect(
      ranges.proofSites[8] == PacketRanges.Site(register: 4, bytes: 20, variable: true, end: 3))
  }

  @Test func anUnboundedOrWideScalarGivesNoPointer() throws {
    // R5 from memory: any number.
    var program = Self.parser(bytes: 20, accesses: [.load(.byte, .r6, from: .r2, offset: 19)])
    program[4] = .load(.word, .r5, from: .r1, offset: 8)
    var ranges = try PacketRangeTests.ranges(program)
    #expect(ranges.value(of: 2, at: 9) == nil)
    #expect(!ranges.proves(2, 19, size: 1, at: 9))
    // 14 or 14 + 256: wider than a join keeps.
    program[4] = .move(.r5, immediate: 14 + 256)
    ranges = try PacketRangeTests.ranges(program)
    #expect(ranges.value(of: 5, at: 5) == nil)
    #expect(ranges.proofSites[8] == nil)
    // Past the packet offset limit (0xffff).
    program[4] = .move(.r5, immediate: 0x10000)
    program[2] = .move(.r5, immediate: 0x10000)
    ranges = try PacketRangeTests.ranges(program)
    #expect(ranges.value(of: 5, at: 5) == nil)
  }

  /// Reads the proven bytes' last byte and the first word, adds them,
  /// stores the sum's low byte as byte 1 and returns the first half-word.
  static let reader: [Instruction] = parser(
    bytes: 20,
    accesses: [
      .load(.byte, .r6, from: .r2, offset: 19), .load(.word, .r7, from: .r2, offset: 0),
      .arithmetic(.add, .r6, .r7), .store(.byte, .r6, to: .r2, offset: 1),
      .load(.halfWord, .r0, from: .r2, offset: 0),
    ], tail: [.exit])

  @Test func provenAccessesRunAsInTheInterpreter() throws {
    // Region byte i holds 7i + 1. data 32 bytes in, V = 18: bytes 50 - 69.
    // b[69] + b[50] = 228 + 95 (low bytes), 323, low byte 67; R0 = b[50]
    // + 67 * 256.
    try PacketRangeTests.expectAlike(Self.reader, data: 32, end: 96, outcome: "R0 = 17247")
    // data_end 37 bytes past data: 18 + 20 > 37, R0 = 0.
    try PacketRangeTests.expectAlike(Self.reader, data: 32, end: 69, outcome: "R0 = 0")
  }

  @Test func aLyingDataEndFaultsInTheJITAsInTheInterpreter() throws {
    let start = try PacketRangeTests.regionStart()
    func outside(_ address: Int64) -> String {
      "instruction 9: read of 1 bytes at 0x\(String(address, radix: 16)) is out of bounds"
    }
    // V = 18, data + V 77: byte 19 from it is the first past the region.
    try PacketRangeTests.expectAlike(Self.reader, data: 59, end: 200, outcome: outside(start + 96))
    // Exactly to the region's end: allowed (b[95] = 154, b[76] = 21).
    try PacketRangeTests.expectAlike(Self.reader, data: 58, end: 200, outcome: "R0 = 44821")
    // The first byte past the proven 20, at the region's end: checked,
    // so it faults in the JIT too (a bound one byte too wide reads it).
    let past = Self.parser(bytes: 20, accesses: [.load(.byte, .r0, from: .r2, offset: 20)])
    try PacketRangeTests.expectAlike(past, data: 58, end: 200, outcome: outside(start + 96))
    // data + V past the 32-bit range: the guard's page lies past the
    // table, and the program's compare then fails.
    try PacketRangeTests.expectAlike(
      Self.reader, data: 0xffff_fff8 - start, end: 0xffff_ffff - start, outcome: "R0 = 0")
    // data in the last page, data + V + 20 just below 2^32, data_end past it.
    try PacketRangeTests.expectAlike(
      Self.reader, data: 0xffff_ffd0 - start, end: 0xffff_ffff - start,
      outcome: outside(0xffff_ffd0 + 18 + 19))
  }
}
