import BPF
import Testing

@testable import Engine

/// Context records are memory programs cannot write, but for the batch
/// form's `act` and redirect slot (``AddressSpace/protectRecords(_:)``):
/// a store, an atomic or a helper's write into a record's `struct xdp_md`
/// through a pointer the static check does not follow (the context
/// pointer laundered through a map value) faults as a store out of bounds
/// does, in both engines, with the same address and size.
@Suite struct ContextRecordWriteTests {
  static let array = MapDefinition(name: "a", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)

  /// R7 = the context pointer, laundered: stored into the array's value
  /// and read back as a number (slots 0 - 9); then `body` (from slot 10),
  /// which returns 2 unless it `returns` R0 itself; a failed lookup
  /// returns 1.
  static func laundered(_ body: [Instruction], returns: Bool = false) -> [Instruction] {
    let end: [Instruction] = returns ? [.exit] : [.move(.r0, immediate: 2), .exit]
    return [
      .move(.r6, .r1), .store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10),
      .add(.r2, immediate: -4),
    ] + Instruction.map(.r1, 0) + [
      .helper(.mapLookupElement),
      .jump(.jeq, .r0, immediate: 0, offset: Int16(body.count + end.count)),
      .store(.doubleWord, .r6, to: .r0, offset: 0), .load(.doubleWord, .r7, from: .r0, offset: 0),
    ] + body + end + [.move(.r0, immediate: 1), .exit]
  }

  /// The first slot of a ``laundered(_:)`` body.
  static let bodyStart = 10

  /// One packet through the runner (its own records) in `engine`: the
  /// error or the verdict and return value, and the record's address.
  static func run(_ instructions: [Instruction], _ engine: EngineKind) throws -> (String, UInt64) {
    let machine = try Machine(maps: [array], configuration: MachineConfiguration(engine: engine))
    let runner = try PacketRunner(
      machine: machine, program: machine.prepare(instructions: instructions), form: .perPacket)
    let records = try #require(machine.addressSpace.regions.first { $0.name == "context records" })
    let result = runner.oneFrameOutcome()
    if engine == .jit { #expect(machine.engineFallback == nil) }
    return (result, UInt64(records.start))
  }

  /// Both engines' outcomes of `instructions`, which must agree.
  static func alike(
    _ instructions: [Instruction], sourceLocation: SourceLocation = #_sourceLocation
  )
    throws -> (String, UInt64)
  {
    let interpreted = try run(instructions, .interpreter)
    let compiled = try run(instructions, .jit)
    #expect(compiled.0 == interpreted.0, sourceLocation: sourceLocation)
    return compiled
  }

  static func fault(_ index: Int, _ address: UInt64, _ size: Int) -> String {
    "\(RunError.execution(packet: 0, .memoryFault(index: index, address: address, size: size, write: true)))"
  }

  @Test func aStoreToEveryFieldOfStructXdpMdFaults() throws {
    let sizes: [(AccessSize, Int)] = [(.byte, 1), (.halfWord, 2), (.word, 4), (.doubleWord, 8)]
    for offset in stride(from: 0, to: 24, by: 4) {
      for (size, bytes) in sizes where offset + bytes <= 32 {
        let store: [Instruction] = [.store(size, .r6, to: .r7, offset: Int16(offset))]
        let (outcome, record) = try Self.alike(Self.laundered(store))
        #expect(outcome == Self.fault(Self.bodyStart, record + UInt64(offset), bytes))
        let immediate: [Instruction] = [.store(size, immediate: 9, to: .r7, offset: Int16(offset))]
        #expect(
          try Self.alike(Self.laundered(immediate)).0
            == Self.fault(Self.bodyStart, record + UInt64(offset), bytes))
      }
    }
  }

  @Test func aStoreReachingIntoStructXdpMdFromTheTailFaults() throws {
    // 8 bytes at 20 (egress_ifindex and act), 8 at 28 (the redirect slot
    // and the next record's data).
    for offset: Int16 in [20, 28] {
      let (outcome, record) = try Self.alike(
        Self.laundered([.store(.doubleWord, .r6, to: .r7, offset: offset)]))
      #expect(outcome == Self.fault(Self.bodyStart, record + UInt64(offset), 8))
    }
  }

  @Test func aStoreThroughTheContextRegisterFaultsButInTheTail() throws {
    // Not through the kernel's rules (prepare(instructions:)): R1 itself,
    // after a load through it (the JIT's context window then holds the
    // record's page, and its checked span the loaded bytes).
    for offset in stride(from: 0, to: 32, by: 4) {
      let program: [Instruction] = [
        .load(.word, .r2, from: .r1, offset: Int16(offset)),
        .store(.word, .r2, to: .r1, offset: Int16(offset)),
        .move(.r0, immediate: 2), .exit,
      ]
      let (outcome, record) = try Self.alike(program)
      #expect(outcome == (offset < 24 ? Self.fault(1, record + UInt64(offset), 4) : "pass 2"))
    }
  }

  @Test func aLoadsCheckDoesNotPassAStoreOfTheSameBytes() throws {
    // The laundered pointer: the load of data is checked and allowed,
    // the store of the same bytes through the same register is not.
    let body: [Instruction] = [
      .load(.word, .r2, from: .r7, offset: 0), .store(.word, .r2, to: .r7, offset: 0),
    ]
    let (outcome, record) = try Self.alike(Self.laundered(body))
    #expect(outcome == Self.fault(Self.bodyStart + 1, record, 4))
  }

  @Test func anAtomicOnDataEndFaults() throws {
    let atomic = Instruction(
      opcode: Opcode.memory(.stx, .atomic, .word), dst: .r7, src: .r6, offset: 4,
      immediate: AtomicOperation.add.rawValue)
    let (outcome, record) = try Self.alike(Self.laundered([atomic]))
    #expect(outcome == Self.fault(Self.bodyStart, record + 4, 4))
  }

  @Test func theTailStaysWritable() throws {
    // act = 3, the redirect slot = 5, read back: 3 + 5 = 8 is the verdict
    // (ABORTED: not an action), in both engines, as an 8-byte store too.
    let words: [Instruction] = [
      .store(.word, immediate: 3, to: .r7, offset: 24),
      .store(.word, immediate: 5, to: .r7, offset: 28),
      .load(.word, .r0, from: .r7, offset: 24), .load(.word, .r2, from: .r7, offset: 28),
      .arithmetic(.add, .r0, .r2),
    ]
    #expect(try Self.alike(Self.laundered(words, returns: true)).0 == "aborted 8")
    let double: [Instruction] = [
      .move(.r2, immediate: 3), .store(.doubleWord, .r2, to: .r7, offset: 24),
      .load(.word, .r0, from: .r7, offset: 24),
    ]
    #expect(try Self.alike(Self.laundered(double, returns: true)).0 == "tx 3")
  }

  @Test func xdpLoadBytesIntoARecordFaults() throws {
    // bpf_xdp_load_bytes(ctx, 0, record + offset, 4): the buffer is the
    // helper's store.
    func load(into offset: Int32, then tail: [Instruction] = []) -> [Instruction] {
      Self.laundered(
        [
          .move(.r1, .r6), .move(.r2, immediate: 0), .move(.r3, .r7), .add(.r3, immediate: offset),
          .move(.r4, immediate: 4), .helper(.xdpLoadBytes),
        ] + tail, returns: !tail.isEmpty)
    }
    for offset: Int32 in [0, 4, 8] {
      let (outcome, record) = try Self.alike(load(into: offset))
      #expect(outcome == Self.fault(Self.bodyStart + 5, record + UInt64(offset), 4))
    }
    // Into act: the packet's first 4 bytes, read back.
    let tail: [Instruction] = [.load(.word, .r0, from: .r7, offset: 24)]
    #expect(try Self.alike(load(into: 24, then: tail)).0 == "aborted \(0xabab_abab)")
  }
}
