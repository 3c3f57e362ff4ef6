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

  /// A checked access leaves R11 at the host address of its own bytes
  /// (register plus offset): a later access in its span through the same
  /// register is addressed from there, by its offset less the checked
  /// one's, with no arena load between them. Bytes read at the wrong
  /// displacement (its offset from the register alone) differ from the
  /// interpreter's.
  @Test func aReusedCheckAddressesFromTheCheckedBytes() throws {
    try JITTests.expectAlike(
      [
        .move(.r5, .r10), .arithmetic(.or, .r5, immediate: 0),
        // r2 = 0x0807060504030201, stored at [r5 - 8, r5): checked.
        .move(.r2, immediate: 0x0807_0605), .arithmetic(.lsh, .r2, immediate: 32),
        .move(.r3, immediate: 0x0403_0201), .arithmetic(.or, .r2, .r3),
        .store(.doubleWord, .r2, to: .r5, offset: -8),
        // Inside the store's span: r0 = 0x03, r3 = 0x0605.
        .load(.byte, .r0, from: .r5, offset: -6),
        .load(.halfWord, .r3, from: .r5, offset: -4),
        .arithmetic(.lsh, .r0, immediate: 16), .arithmetic(.or, .r0, .r3),
        // A check at another offset, then its span again from there.
        .load(.word, .r3, from: .r5, offset: -16),
        .store(.word, .r0, to: .r5, offset: -16),
        .load(.halfWord, .r3, from: .r5, offset: -14),
        .arithmetic(.add, .r0, .r3),
        .exit,
      ], outcome: "R0 = 198152")
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

  /// The prologue empties the windows once after the space changed, and
  /// records the generation it emptied them at: a program with no
  /// checked access (which never refills one) does not empty them again
  /// on every later call; a window filled before the change is still
  /// emptied, and its page's closing still faults.
  @Test func windowsEmptiedAfterAChangeAreOfTheNewGeneration() throws {
    let machine = try Machine(configuration: MachineConfiguration(engine: .jit))
    let frame = try machine.addressSpace.map(length: 4096, name: "frame")
    let address = UInt64(frame.start)
    let reads = try machine.prepare(instructions: [
      .load(.word, .r0, from: .r1, offset: 8), .move(.r0, immediate: 2), .exit,
    ])
    let returns = try machine.prepare(instructions: [.move(.r0, immediate: 2), .exit])
    func word(_ offset: Int32) -> UInt64 {
      machine.jit.context.load(fromByteOffset: Int(offset), as: UInt64.self)
    }
    let window = AccessWindow.Region.context  // R1's loads
    #expect(try machine.run(reads, r1: address) == 2)
    #expect(word(window.low) == address && word(window.span(size: 4)) > 0)
    machine.addressSpace.closePages(of: frame)
    let changed = machine.addressSpace.generation.pointee
    #expect(word(JITContext.windowGeneration) != changed)
    #expect(try machine.run(returns, r1: 0) == 2)
    #expect(word(JITContext.windowGeneration) == changed)
    for size in [1, 2, 4, 8] { #expect(word(window.span(size: size)) == 0) }
    #expect(
      throws: ExecutionError.memoryFault(index: 0, address: address + 8, size: 4, write: false)
    ) {
      try machine.run(reads, r1: address)
    }
  }

  /// The outcome in `engine` with R1 at a record at the start of a region
  /// of `regionBytes` (``PacketRangeTests/outcome``), and the machine.
  static func run(_ instructions: [Instruction], engine: EngineKind, regionBytes: Int = 96)
    throws -> (outcome: String, machine: Machine, region: UInt64)
  {
    var machine: Machine?
    var region: UInt64 = 0
    let outcome = try JITTests.outcome(instructions, engine: engine) { running in
      machine = running
      region = UInt64(try running.addressSpace.map(length: regionBytes, name: "test record").start)
      return region
    }.0
    return (outcome, try #require(machine), region)
  }

  static func expectAlike(
    _ instructions: [Instruction], regionBytes: Int, outcome expected: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let interpreted = try run(instructions, engine: .interpreter, regionBytes: regionBytes)
    let compiled = try run(instructions, engine: .jit, regionBytes: regionBytes)
    #expect(compiled.outcome == interpreted.outcome, sourceLocation: sourceLocation)
    #expect(compiled.outcome == expected, sourceLocation: sourceLocation)
  }

  /// The batch form's shape around a helper: the context spilled, a call
  /// (`call`, by default one that writes no memory through its arguments;
  /// ``PacketRanges`` forgets the spill across any other), the fill, then
  /// an access through the stack pointer R6 and one through the fill.
  static func spilledContext(
    _ last: Instruction, call: HelperFunction = .getPseudoRandomU32
  ) -> [Instruction] {
    [
      .move(.r6, .r10), .arithmetic(.or, .r6, immediate: 0),
      .store(.doubleWord, .r1, to: .r10, offset: -8),
      .call(helper: call.rawValue),
      .load(.doubleWord, .r1, from: .r10, offset: -8),
      .load(.doubleWord, .r0, from: .r6, offset: -16),
      last,
      .move(.r0, immediate: 1), .exit,
    ]
  }

  /// The window ``AccessWindow/Plan`` picks for an access through R1 at
  /// slot 6 of `instructions`, and what ``PacketRanges`` knows of R1 there.
  static func planned(_ instructions: [Instruction]) throws
    -> (region: AccessWindow.Region, known: PacketRanges.Value?, used: Set<AccessWindow.Region>)
  {
    let machine = try Machine(configuration: MachineConfiguration(engine: .interpreter))
    let program = try machine.prepare(instructions: instructions)
    let count = program.count + 1
    let ranges = PacketRanges(slots: program.slots, count: count)
    let plan = AccessWindow.Plan(slots: program.slots, count: count, packetRanges: ranges)
    #expect(plan.region(of: 6, at: 5, ranges) == .other)  // R6: R10 through an `or`
    return (plan.region(of: 1, at: 6, ranges), ranges.value(of: 1, at: 6), plan.used)
  }

  /// ``AccessWindow/Plan``: the fill of the spilled context reads through
  /// the context's window even where PacketRanges forgot it at the call;
  /// the stack pointer it does not follow, through the shared window.
  @Test func theSpilledContextKeepsItsOwnWindowAcrossACall() throws {
    // PacketRanges keeps the spill across get_prandom_u32, not across
    // xdp_load_bytes (which may write the stack).
    let read = Instruction.load(.word, .r2, from: .r1, offset: 8)
    #expect(try Self.planned(Self.spilledContext(read)).known == .context)
    let instructions = Self.spilledContext(read, call: .xdpLoadBytes)
    let planned = try Self.planned(instructions)
    #expect(planned.known == nil)
    #expect(planned.region == .context)
    // The stores' shared window is always planned.
    #expect(planned.used == [.other, .otherStore, .context])
    // R1 moved by less than a record between the fill and the access, or
    // filled from a slot the context was never stored to, is not the
    // context.
    var moved = instructions
    moved[5] = .add(.r1, immediate: 4)
    #expect(try Self.planned(moved).region == .other)
    var elsewhere = instructions
    elsewhere[4] = .load(.doubleWord, .r1, from: .r10, offset: -16)
    #expect(try Self.planned(elsewhere).region == .other)
  }

  /// Code that may tail call empties every window on entry: its target
  /// starts past its own prologue and may read through any of them.
  @Test func codeThatTailCallsEmptiesEveryWindow() throws {
    let tailCall = Instruction.call(helper: HelperFunction.tailCall.rawValue)
    let machine = try Machine(configuration: MachineConfiguration(engine: .interpreter))
    for (instructions, used) in [
      ([Instruction.move(.r0, immediate: 2), .exit], [AccessWindow.Region.other, .otherStore]),
      (
        [.move(.r3, immediate: 0), tailCall, .move(.r0, immediate: 2), .exit],
        Set(AccessWindow.Region.allCases)
      ),
    ] as [([Instruction], Set<AccessWindow.Region>)] {
      let program = try machine.prepare(instructions: instructions)
      let count = program.count + 1
      let plan = AccessWindow.Plan(
        slots: program.slots, count: count,
        packetRanges: PacketRanges(slots: program.slots, count: count))
      #expect(plan.used == used)
    }
  }

  /// After the run, each window holds the page its own accesses last
  /// used: the record's page in the context's, the stack's first page
  /// (0x1000) in the shared one, so neither evicts the other in a loop.
  @Test func theContextAndTheStackFillTheirOwnWindows() throws {
    let instructions = Self.spilledContext(.load(.word, .r2, from: .r1, offset: 8))
    let (outcome, machine, region) = try Self.run(instructions, engine: .jit)
    #expect(outcome == "R0 = 1")
    let block = machine.jit.context
    func word(_ offset: Int32) -> UInt64 {
      block.load(fromByteOffset: Int(offset), as: UInt64.self)
    }
    #expect(word(AccessWindow.Region.context.low) == region & ~0xfff)
    #expect(word(AccessWindow.Region.other.low) == 0x1000)
    // The record's region is 96 bytes: a 4-byte span of 93 starts.
    #expect(word(AccessWindow.Region.context.span(size: 4)) == (region & 0xfff) + 93)
    #expect(word(AccessWindow.Region.other.span(size: 8)) == 0x200 - 7)
  }

  /// The context's window allows to the byte what the page table allows,
  /// after the call as before it.
  @Test func theContextsWindowEndsWhereTheRecordsRegionEnds() throws {
    try Self.expectAlike(
      Self.spilledContext(.load(.doubleWord, .r2, from: .r1, offset: 88)), regionBytes: 96,
      outcome: "R0 = 1")
    let start = try PacketRangeTests.regionStart()
    try Self.expectAlike(
      Self.spilledContext(.load(.doubleWord, .r2, from: .r1, offset: 89)), regionBytes: 96,
      outcome:
        "instruction 6: read of 8 bytes at 0x\(String(start + 89, radix: 16)) is out of bounds")
  }

  /// A refill whose range ends within 7 bytes past the page takes the
  /// spans from the range (``AccessWindow``'s partial refill); one ending
  /// 7 bytes or more past it gives every size the whole page.
  @Test func aRangeEndingJustPastThePageGivesEachSizeItsOwnSpan() throws {
    let start = try PacketRangeTests.regionStart()
    func read(at offset: Int16) -> [Instruction] {
      [
        .load(.byte, .r2, from: .r1, offset: 0),  // fills the window from page 0
        .load(.doubleWord, .r2, from: .r1, offset: offset),
        .move(.r0, immediate: 1), .exit,
      ]
    }
    func fault(_ offset: Int) -> String {
      "instruction 1: read of 8 bytes at 0x\(String(start + Int64(offset), radix: 16)) is out of bounds"
    }
    for bytes in [4096 + 3, 4096 + 6, 4096 + 7] {
      // The last 8 bytes of the range are allowed; one byte on is not
      // (from page 0's window up to 4096 + 6; 4096 + 7 starts in page 1).
      try Self.expectAlike(read(at: Int16(bytes - 8)), regionBytes: bytes, outcome: "R0 = 1")
      try Self.expectAlike(
        read(at: Int16(bytes - 7)), regionBytes: bytes, outcome: fault(bytes - 7))
    }
  }

  /// ``JITRuntime/refresh(_:)`` (after every call into Swift) empties
  /// every region's window, not only the shared one.
  @Test func emptyingClearsEveryWindowsSpans() {
    let block = UnsafeMutableRawPointer.allocate(byteCount: JITContext.size, alignment: 16)
    defer { block.deallocate() }
    block.initializeMemory(as: UInt8.self, repeating: 0xff, count: JITContext.size)
    AccessWindow.empty(block)
    for region in AccessWindow.Region.allCases {
      for size in [1, 2, 4, 8] {
        #expect(block.load(fromByteOffset: Int(region.span(size: size)), as: UInt64.self) == 0)
      }
      #expect(region.host + 8 <= Int32(JITContext.size))
    }
  }
}
