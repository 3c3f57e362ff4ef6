import BPF
import Testing

@testable import Engine

/// The JIT's access window (``AccessWindow``) allows exactly what the page
/// table allows: an access that the window's page range does not hold to
/// the byte faults as in the interpreter, with the same address and size.
@Suite struct AccessWindowTests {
  /// `r5 = r10 | 0` (a frame pointer the JIT does not follow, so every
  /// access through it is checked), then `accesses`. The stack region's
  /// range ends at the top of frame 0, inside a page.
  static func program(_ accesses: [Instruction]) -> [Instruction] {
    [.move(.r5, .r10), .arithmetic(.or, .r5, immediate: 0)] + accesses + [
      .move(.r0, immediate: 1), .exit,
    ]
  }

  @Test func anAccessPastTheRegionsEndFaultsAfterTheWindowWasFilled() throws {
    // The first load fills the window from the frame's page; the second
    // starts inside that page but ends 4 bytes past the range.
    try JITTests.expectAlike(
      Self.program([
        .load(.doubleWord, .r0, from: .r5, offset: -8),
        .load(.doubleWord, .r0, from: .r5, offset: -4),
      ]), outcome: "instruction 3: read of 8 bytes at 0x11fc is out of bounds")
    // Ending exactly at the range's end is allowed in both.
    try JITTests.expectAlike(
      Self.program([
        .load(.doubleWord, .r0, from: .r5, offset: -8),
        .load(.word, .r0, from: .r5, offset: -4),
        .load(.halfWord, .r0, from: .r5, offset: -2),
        .load(.byte, .r0, from: .r5, offset: -1),
      ]), outcome: "R0 = 1")
    // A store through the window, then a 2-byte store straddling the end.
    try JITTests.expectAlike(
      Self.program([
        .store(.word, immediate: 7, to: .r5, offset: -8),
        .store(.halfWord, immediate: 7, to: .r5, offset: -1),
      ]), outcome: "instruction 3: write of 2 bytes at 0x11ff is out of bounds")
  }

  @Test func anAccessBelowTheWindowsPageFaultsAfterTheWindowWasFilled() throws {
    // The window holds the stack's first page (0x1000); a 2-byte load
    // one byte below it starts in page 0, which is never mapped.
    try JITTests.expectAlike(
      Self.program([
        .load(.doubleWord, .r0, from: .r5, offset: -8),
        .load(.halfWord, .r0, from: .r5, offset: -0x201),
      ]), outcome: "instruction 3: read of 2 bytes at 0xfff is out of bounds")
    // A window filled by an 8-byte access also serves a 1-byte one at the
    // page's first byte, and the span of each size ends at the range.
    try JITTests.expectAlike(
      Self.program([
        .load(.doubleWord, .r0, from: .r5, offset: -8),
        .load(.byte, .r0, from: .r5, offset: -0x200),
        .load(.byte, .r0, from: .r5, offset: -1),
        .load(.byte, .r0, from: .r5, offset: 0),
      ]), outcome: "instruction 5: read of 1 bytes at 0x1200 is out of bounds")
  }

  /// ``CheckedSpans``: an access inside bytes a check of the same block
  /// allowed through the same register goes unchecked; a write to the
  /// register or a jump into the block forgets them.
  @Test func aCheckIsReusedOnlyForTheSameRegisterValue() throws {
    // Within the checked bytes: allowed in both.
    try JITTests.expectAlike(
      Self.program([
        .load(.doubleWord, .r0, from: .r5, offset: -8),
        .load(.word, .r0, from: .r5, offset: -4),
        .store(.halfWord, immediate: 3, to: .r5, offset: -6),
      ]), outcome: "R0 = 1")
    // r5 moved 4 bytes up: [r5 - 4, r5) is the frame's top plus 0..3.
    try JITTests.expectAlike(
      Self.program([
        .load(.doubleWord, .r0, from: .r5, offset: -8),
        .add(.r5, immediate: 4),
        .load(.word, .r0, from: .r5, offset: -4),
      ]), outcome: "instruction 4: read of 4 bytes at 0x1200 is out of bounds")
    // Slot 5 checks [r5 - 8, r5) in code that runs on no path; slot 6,
    // reached by a jump with r5 four bytes up, is checked again.
    try JITTests.expectAlike(
      Self.program([
        .jump(.jne, .r1, immediate: 0, offset: 2),
        .add(.r5, immediate: 4),
        .jump(offset: 1),
        .load(.doubleWord, .r0, from: .r5, offset: -8),
        .load(.word, .r0, from: .r5, offset: -4),
      ]), outcome: "instruction 6: read of 4 bytes at 0x1200 is out of bounds")
  }

  /// The window outlives a run only while the page table is unchanged: a
  /// runner that closes a frame's pages between two runs of a series
  /// (``AddressSpace/closePages(of:)``) leaves a window that the first run
  /// filled from them, and the second run's read there must fault.
  @Test func aPageClosedBetweenRunsOfASeriesFaultsThroughAFilledWindow() throws {
    let machine = try Machine(configuration: MachineConfiguration(engine: .jit))
    let frame = try machine.addressSpace.map(length: 4096, name: "frame")
    // R1 is a frame, not the context: the load is checked (the window).
    let program = try machine.prepare(instructions: [
      .load(.word, .r0, from: .r1, offset: 8), .move(.r0, immediate: 2), .exit,
    ])
    let series = machine.beginSeries(program)
    let address = UInt64(frame.start)
    #expect(try machine.runInSeries(series, program, r1: address) == 2)
    #expect(try machine.runInSeries(series, program, r1: address) == 2)
    machine.addressSpace.closePages(of: frame)
    #expect(
      throws: ExecutionError.memoryFault(index: 0, address: address + 8, size: 4, write: false)
    ) {
      try machine.runInSeries(series, program, r1: address)
    }
    machine.addressSpace.openPages(from: address, to: address + 4096)
    #expect(try machine.runInSeries(series, program, r1: address) == 2)
  }
}
