import BPF
import Testing

@testable import Engine

/// The proven copy's one check of both context fields
/// (``JITCompiler/contextFieldSites(slots:count:leaders:packetRanges:)``)
/// and its exits to the checked copy (``JITCompiler/CopyExit``): which
/// loads it covers, and that a context that is not what it claims, or a
/// packet guard that fails, runs as in the interpreter (verdict, fault,
/// address, size and instruction count).
@Suite struct ContextFieldCheckTests {
  static func sites(_ instructions: [Instruction]) throws -> Set<Int> {
    let machine = try Machine(configuration: MachineConfiguration(engine: .interpreter))
    return JITCompiler(try machine.prepare(instructions: instructions)).contextFields
  }

  @Test func oneCheckCoversDataAndDataEndThroughTheSameRegister() throws {
    // Through the entry's R1 and its copies the fields are trusted loads
    // (``PacketRanges/trustedLoads``): no site.
    #expect(try Self.sites(PacketRangeTests.reader).isEmpty)
    // A context moved by whole records and back is not the entry's record:
    // data (slot 2) is checked for 8 bytes, data_end (slot 3) rides on it.
    let moved: [Instruction] = [.add(.r1, immediate: 32), .add(.r1, immediate: -32)]
    #expect(try Self.sites(moved + PacketRangeTests.reader) == [2])
    // Through two such registers, each is checked.
    let twoRegisters: [Instruction] =
      moved + [.move(.r6, .r1)]
      + PacketRangeTests.parser(bytes: 14, accesses: [.load(.byte, .r5, from: .r2, offset: 13)])
      .enumerated().map { $0.offset == 1 ? .load(.word, .r3, from: .r6, offset: 4) : $0.element }
    #expect(try Self.sites(twoRegisters) == [3, 4])
    // Without a proof there is one copy and no site: every load checked alone.
    let unproven: [Instruction] = [
      .load(.word, .r2, from: .r1, offset: 0), .load(.word, .r3, from: .r1, offset: 4),
      .move(.r0, immediate: 0), .exit,
    ]
    #expect(try Self.sites(unproven).isEmpty)
  }

  /// `instructions` in both engines with R1 = the last 4 bytes of a
  /// 4096-byte region A; `second` maps the next region B right after it,
  /// whose bytes from 32 on are a packet (`data` = B + 32, `data_end` =
  /// B + 32 + `length`) and byte i holds 7i + 1.
  static func straddling(_ instructions: [Instruction], second: Bool, length: UInt32 = 96)
    throws -> [(String, Int)]
  {
    try [EngineKind.interpreter, .jit].map { engine in
      try JITTests.outcome(instructions, engine: engine) { machine in
        let a = try machine.addressSpace.map(length: 4096, name: "region A")
        let record = UInt64(a.start) + 4092
        guard second else { return record }
        let b = try machine.addressSpace.map(length: 4096, name: "region B")
        #expect(UInt64(b.start) == record + 4)
        let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        _ = machine.addressSpace.write(bytes, at: UInt64(b.start))
        #expect(machine.addressSpace.writeWord(b.start + 32, at: record))
        #expect(machine.addressSpace.writeWord(b.start + 32 + length, at: record + 4))
        return record
      }
    }
  }

  @Test func aRecordAcrossTwoRegionsRunsInTheCheckedCopy() throws {
    // data in A's last word, data_end in B's first: each load is allowed
    // alone, the 8-byte check is not. b[71] + b[32] = 242 + 225 = 467,
    // low byte 211; R0 = 225 + 211 * 256, as in PacketRangeTests.
    let both = try Self.straddling(PacketRangeTests.reader, second: true)
    #expect(both[1] == both[0])
    #expect(both[1].0 == "R0 = 54241")
    // data_end 39 bytes past data: the program's own compare fails.
    let short = try Self.straddling(PacketRangeTests.reader, second: true, length: 39)
    #expect(short[1] == short[0] && short[1].0 == "R0 = 0")
  }

  @Test func aRecordAtARegionsEndFaultsAtTheSecondFieldAsInTheInterpreter() throws {
    let start = try PacketRangeTests.regionStart()
    let outcomes = try Self.straddling(PacketRangeTests.reader, second: false)
    #expect(outcomes[1] == outcomes[0])
    // Not the 8-byte check at slot 0: data_end's 4 bytes at slot 1.
    let end = String(start + 4096, radix: 16)
    #expect(outcomes[1].0 == "instruction 1: read of 4 bytes at 0x\(end) is out of bounds")
  }

  /// Proves 40 bytes from `data`, reads only the first: a guard that fails
  /// (the bytes leave the region) continues in the checked copy, whose
  /// read is allowed.
  static let firstByte: [Instruction] = PacketRangeTests.parser(
    bytes: 40, accesses: [.load(.byte, .r0, from: .r2, offset: 0)], tail: [.exit])

  @Test func aFailedGuardCountsEveryInstructionOnce() throws {
    // data 80 bytes into the 96-byte region, data_end past it: the guard
    // sends the run to the checked copy; b[80] = 561 & 0xff = 49.
    let alike = [
      try PacketRangeTests.outcome(Self.firstByte, engine: .interpreter, data: 80, end: 200),
      try PacketRangeTests.outcome(Self.firstByte, engine: .jit, data: 80, end: 200),
    ]
    #expect(alike[1] == alike[0])
    #expect(alike[1] == ("R0 = 49", 8))
    // A guard that holds: the same count.
    let proven = try PacketRangeTests.outcome(Self.firstByte, engine: .jit, data: 32, end: 96)
    #expect(proven == ("R0 = 225", 8))
  }

  /// A context pointer laundered through an array value (the kernel's
  /// verifier would never let the number be dereferenced; the engine's
  /// static check follows no such laundering) writes `data_end`, then the
  /// parser reads 40 bytes from data 57 bytes into the record's 96-byte
  /// region. The outcome in both engines, which must agree, and the
  /// region's start.
  static func forgedDataEnd(records: Bool) throws -> (String, Int, launder: Int, start: Int64) {
    let array = MapDefinition(name: "a", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)
    // Where the record's region starts: the first a machine with the map
    // maps after its own.
    let probe = try Machine(maps: [array], configuration: MachineConfiguration(engine: .jit))
    let start = Int64(try probe.addressSpace.map(length: 96, name: "probe").start)
    let parser = PacketRangeTests.reader
    let launder: [Instruction] =
      [
        .move(.r6, .r1), .store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10),
        .add(.r2, immediate: -4),
      ] + Instruction.map(.r1, 0) + [
        .helper(.mapLookupElement),
        .jump(.jeq, .r0, immediate: 0, offset: Int16(4 + parser.count)),
        .store(.doubleWord, .r6, to: .r0, offset: 0), .load(.doubleWord, .r7, from: .r0, offset: 0),
        .store(.word, immediate: Int32(start + 200), to: .r7, offset: 4), .move(.r1, .r6),
      ]
    let program = launder + parser + [.move(.r0, immediate: 7), .exit]
    func outcome(_ engine: EngineKind) throws -> (String, Int) {
      try JITTests.outcome(program, engine: engine, maps: [array]) { machine in
        let region = try machine.addressSpace.map(length: 96, name: "test record")
        #expect(Int64(region.start) == start)
        #expect(machine.addressSpace.writeWord(region.start + 57, at: UInt64(region.start)))
        #expect(machine.addressSpace.writeWord(region.start + 96, at: UInt64(region.start) + 4))
        if records { machine.addressSpace.protectRecords(region) }
        return UInt64(region.start)
      }
    }
    let (interpreted, compiled) = (try outcome(.interpreter), try outcome(.jit))
    #expect(compiled == interpreted)
    return (compiled.0, compiled.1, launder.count, start)
  }

  @Test func aDataEndForgedThroughAMapValueFaultsAtTheStore() throws {
    // Context records are read-only to programs but for their tail
    // (AddressSpace.protectRecords): the store of data_end is the fault.
    let forged = try Self.forgedDataEnd(records: true)
    let field = String(forged.start + 4, radix: 16)
    #expect(
      forged.0
        == "instruction \(forged.launder - 2): write of 4 bytes at 0x\(field) is out of bounds")
  }

  @Test func aContextOutsideTheRecordsWithALyingDataEndFaultsAsInTheInterpreter() throws {
    // A context in memory programs may write (a caller's own, not a
    // runner's records): the store passes, and the packet guard sends
    // the run to the checked copy, which faults at byte 39 of the parser.
    let forged = try Self.forgedDataEnd(records: false)
    let past = String(forged.start + 96, radix: 16)
    #expect(
      forged.0
        == "instruction \(forged.launder + 6): read of 1 bytes at 0x\(past) is out of bounds")
  }
}
