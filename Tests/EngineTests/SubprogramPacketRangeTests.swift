import BPF
import Testing

@testable import Engine

/// Packet ranges into subprograms (``PacketRanges``): a callee whose every
/// call site passes a packet pointer `data + n` (n >= 0) and `data_end`
/// knows them at its entry, as the verifier's `set_callee_state` copies
/// R1 - R5; R6 - R9's pointers survive a call whose callee hands nothing
/// to Swift. The code runs like the interpreter when `data_end` lies,
/// whether the guard is the caller's or the callee's own.
@Suite struct SubprogramPacketRangeTests {
  /// main: `r2 = data; r3 = data_end; r6 = r2; r4 = r2 + 14; R0 = 0;
  /// if r4 > r3 goto drop; r1 = r2 + 6; r2 = r3; call sub; r5 = *(u8 *)
  /// (r6 + 13); r0 += r5; exit; drop: exit`. sub (slot 15): `r3 = r1 + 12;
  /// R0 = 0; if r3 > r2 goto out; r0 = *(u8 *)(r1 + 11); tail; out: exit`.
  /// Without `guarded`, main's compare is `R0 = 0`: the callee's compare
  /// (slot 18) needs the guard.
  static func program(guarded: Bool = true, tail: [Instruction] = []) -> [Instruction] {
    [
      .load(.word, .r2, from: .r1, offset: 0),
      .load(.word, .r3, from: .r1, offset: 4),
      .move(.r6, .r2),
      .move(.r4, .r2),
      .add(.r4, immediate: 14),
      .move(.r0, immediate: 0),
      guarded ? .jump(.jgt, .r4, .r3, offset: 7) : .move(.r0, immediate: 0),
      .move(.r1, .r2),
      .add(.r1, immediate: 6),
      .move(.r2, .r3),
      .call(local: 4),
      .load(.byte, .r5, from: .r6, offset: 13),
      .arithmetic(.add, .r0, .r5),
      .exit,
      .exit,
      // sub
      .move(.r3, .r1),
      .add(.r3, immediate: 12),
      .move(.r0, immediate: 0),
      .jump(.jgt, .r3, .r2, offset: Int16(1 + tail.count)),
      .load(.byte, .r0, from: .r1, offset: 11),
    ] + tail + [.exit]
  }

  @Test func theCalleeKnowsThePointerAndDataEndItsCallerPassed() throws {
    let ranges = try PacketRangeTests.ranges(Self.program())
    let entry = PacketRanges.entryVariable(15, 1)
    #expect(ranges.value(of: 1, at: 15) == .variablePacket(variable: entry, offset: 0))
    #expect(ranges.value(of: 2, at: 15) == .packetEnd)
    // main's 14 bytes, 8 of them past data + 6, carried into the callee.
    #expect(ranges.proves(1, 7, size: 1, at: 15))
    #expect(!ranges.proves(1, 8, size: 1, at: 15))
    // The callee's own compare proves 12, covered by main's guard.
    #expect(ranges.proves(1, 11, size: 1, at: 19))
    #expect(!ranges.proves(1, 12, size: 1, at: 19))
    #expect(ranges.proofSites.keys.sorted() == [6])
    #expect(ranges.coveredSites.keys.sorted() == [18])
    // R6 (data) keeps its range across the call: the callee calls nothing.
    #expect(ranges.proves(6, 13, size: 1, at: 11))
  }

  @Test func aCalleeThatCallsAHelperForgetsTheCallersPointers() throws {
    let ranges = try PacketRangeTests.ranges(Self.program(tail: [.call(helper: 5)]))
    #expect(ranges.proves(1, 11, size: 1, at: 19))
    #expect(ranges.value(of: 6, at: 11) == nil)
    #expect(!ranges.proves(6, 13, size: 1, at: 11))
  }

  @Test func withoutAGuardInTheCallerTheCalleesCompareHasItsOwn() throws {
    let ranges = try PacketRangeTests.ranges(Self.program(guarded: false))
    #expect(ranges.proofSites.keys.sorted() == [18])
    #expect(ranges.proofSites[18]?.variable == true)
    #expect(ranges.proves(1, 11, size: 1, at: 19))
    #expect(!ranges.proves(6, 13, size: 1, at: 11))
  }

  @Test func aCallSiteThatPassesNoPacketPointerLeavesTheCalleeUnproven() throws {
    // A second call passes a stack pointer in R1 (and data_end in R2, as
    // the first, from R8): R1 is nothing known at the entry, and the
    // callee's compare proves nothing.
    var program = Self.program()
    program[5] = .move(.r8, .r3)
    let call: [Instruction] = [
      .move(.r7, .r0), .move(.r1, .r10), .add(.r1, immediate: -16), .move(.r2, .r8),
      .call(local: 0),
    ]
    // Before main's exit (slot 13); the calls now reach sub at slot 20.
    program.insert(contentsOf: call, at: 13)
    program[10] = .call(local: 9)
    program[17] = .call(local: 2)
    program[6] = .jump(.jgt, .r4, .r3, offset: 12)
    let ranges = try PacketRangeTests.ranges(program)
    #expect(ranges.value(of: 1, at: 20) == nil)
    #expect(ranges.value(of: 2, at: 20) == .packetEnd)
    #expect(!ranges.proves(1, 11, size: 1, at: 24))
    #expect(ranges.proofSites[23] == nil && ranges.coveredSites[23] == nil)
    // The first call alone: proven (the same program with the second
    // call's target moved off the callee).
    program[17] = .move(.r0, immediate: 0)
    let alone = try PacketRangeTests.ranges(program)
    #expect(alone.proves(1, 11, size: 1, at: 24))
  }

  @Test func provenCalleesRunAsInTheInterpreter() throws {
    // Region byte i holds 7i + 1. data 32 in: sub reads b[49] = 88, main
    // b[45] = 60.
    for guarded in [true, false] {
      try PacketRangeTests.expectAlike(
        Self.program(guarded: guarded), data: 32, end: 96, outcome: "R0 = 148")
      // data 80, data_end at the region's end: sub's compare fails (R0 =
      // 0), main reads b[93] = 140.
      try PacketRangeTests.expectAlike(
        Self.program(guarded: guarded), data: 80, end: 96, outcome: "R0 = 140")
    }
  }

  @Test func aForgedDataEndFaultsInTheCalleeAsInTheInterpreter() throws {
    let start = try PacketRangeTests.regionStart()
    // data 80, data_end past the region: main's compare and sub's hold;
    // sub's read of data + 17 is the second byte past the region, whether
    // main's guard or sub's own sent the run to the checked copy.
    for guarded in [true, false] {
      try PacketRangeTests.expectAlike(
        Self.program(guarded: guarded), data: 80, end: 200,
        outcome:
          "instruction 19: read of 1 bytes at 0x\(String(start + 97, radix: 16)) is out of bounds")
    }
  }
}
