import BPF
import Testing

@testable import Engine

/// One packet guard per `data` and `data_end` (``PacketRanges``): the
/// guard of a compare checks that the start's region reaches `data_end`,
/// so a later compare with the same `data_end` from the same start needs
/// none; a new `data_end`, a new `data`, a call or a path with no guard
/// needs one again. The code runs like the interpreter when `data_end`
/// lies.
@Suite struct PacketGuardTests {
  /// `r2 = data; r3 = data_end; r4 = r2 + 14; R0 = 0; if r4 > r3 goto
  /// drop; between; r4 = r2 + 40; if r4 > end goto drop;` then the
  /// reader's accesses (``PacketRangeTests/reader``) and `drop: exit`.
  /// The first compare is slot 5, the second slot 8 + between's count.
  static func twoCompares(
    between: [Instruction] = [], end: Register = .r3
  ) -> [Instruction] {
    let accesses: [Instruction] = [
      .load(.byte, .r5, from: .r2, offset: 39), .load(.word, .r6, from: .r2, offset: 0),
      .arithmetic(.add, .r5, .r6), .store(.byte, .r5, to: .r2, offset: 1),
      .load(.halfWord, .r0, from: .r2, offset: 0), .exit,
    ]
    let second: [Instruction] = [
      .move(.r4, .r2), .add(.r4, immediate: 40),
      .jump(.jgt, .r4, end, offset: Int16(accesses.count)),
    ]
    return [
      .load(.word, .r2, from: .r1, offset: 0),
      .load(.word, .r3, from: .r1, offset: 4),
      .move(.r4, .r2),
      .add(.r4, immediate: 14),
      .move(.r0, immediate: 0),
      .jump(.jgt, .r4, .r3, offset: Int16(between.count + second.count + accesses.count)),
    ] + between + second + accesses + [.exit]
  }

  @Test func aLaterCompareWithTheSameDataEndNeedsNoGuard() throws {
    let ranges = try PacketRangeTests.ranges(Self.twoCompares())
    #expect(ranges.proofSites == [5: PacketRanges.Site(register: 4, bytes: 14, end: 3)])
    #expect(ranges.coveredSites == [8: PacketRanges.Site(register: 4, bytes: 40, end: 3)])
    #expect(ranges.proves(2, 39, size: 1, at: 9))
    #expect(!ranges.proves(2, 40, size: 1, at: 9))
    // A copy of the same data_end is the same value.
    let copy = try PacketRangeTests.ranges(
      Self.twoCompares(between: [.move(.r8, .r3)], end: .r8))
    #expect(copy.proofSites.keys.sorted() == [5])
    #expect(copy.coveredSites.keys.sorted() == [9])
  }

  @Test func aNewDataEndANewDataOrACallNeedsAGuardAgain() throws {
    let cases: [(String, [Instruction], Register)] = [
      ("data_end loaded again", [.load(.word, .r3, from: .r1, offset: 4)], .r3),
      // r8 holds the data_end before the latest load: maybe another value.
      (
        "an older data_end",
        [.move(.r8, .r3), .load(.word, .r3, from: .r1, offset: 4)], .r8
      ),
      ("data loaded again", [.load(.word, .r2, from: .r1, offset: 0)], .r3),
    ]
    for (name, between, end) in cases {
      let ranges = try PacketRangeTests.ranges(Self.twoCompares(between: between, end: end))
      let second = 8 + between.count
      #expect(ranges.proofSites.keys.sorted() == [5, second], "\(name)")
      #expect(ranges.coveredSites.isEmpty, "\(name)")
      #expect(ranges.proves(2, 39, size: 1, at: second + 1), "\(name)")
    }
    // A helper call forgets data and data_end: no compare proves.
    let call = try PacketRangeTests.ranges(Self.twoCompares(between: [.call(helper: 5)]))
    #expect(call.proofSites.keys.sorted() == [5])
    #expect(call.coveredSites.isEmpty)
  }

  @Test func aJoinWithAnUnguardedPathNeedsAGuard() throws {
    // The first compare is skipped when data == data_end: the second
    // compare's guard is the only one on that path.
    var program = Self.twoCompares(between: [.move(.r0, immediate: 0)])
    program.insert(.jump(.jeq, .r2, .r3, offset: 2), at: 5)
    program[6] = .jump(.jgt, .r4, .r3, offset: 10)
    let ranges = try PacketRangeTests.ranges(program)
    #expect(ranges.proofSites.keys.sorted() == [6, 10])
    #expect(ranges.coveredSites.isEmpty)
  }

  @Test func aDataEndPastTheRegionFaultsAfterACoveredCompareAsInTheInterpreter() throws {
    let start = try PacketRangeTests.regionStart()
    // Honest: both compares hold, R0 as the reader's.
    try PacketRangeTests.expectAlike(
      Self.twoCompares(), data: 32, end: 96, outcome: "R0 = 54241")
    // data + 14 within the region, data + 40 past it, data_end past it:
    // the first compare's guard sends the run to the checked copy, which
    // faults at the read of byte 39, the first past the region.
    try PacketRangeTests.expectAlike(
      Self.twoCompares(), data: 57, end: 200,
      outcome:
        "instruction 9: read of 1 bytes at 0x\(String(start + 96, radix: 16)) is out of bounds")
    // data_end exactly at the region's end: allowed.
    try PacketRangeTests.expectAlike(
      Self.twoCompares(), data: 56, end: 96, outcome: "R0 = 9097")
  }
}
