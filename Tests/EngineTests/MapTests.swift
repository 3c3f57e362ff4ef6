import BPF
import Engine
import Testing

@Suite("Maps")
struct MapTests {
  let counters = MapDefinition(
    name: "counters", type: .array, keySize: 4, valueSize: 8, maxEntries: 4)

  /// key = 1; value = lookup(map 0, &key); if value: *value += 1 (atomic); return 2.
  let increment: [Instruction] =
    [Instruction.storeWord(1, .r10, -4)] + Instruction.map(.r1, 0) + [
      .move(.r2, .r10), .add(.r2, immediate: -4), .helper(.mapLookupElement),
      .jump(.jeq, .r0, immediate: 0, offset: 3),
      .move(.r1, immediate: 1),
      Instruction(opcode: 0xdb, dst: .r0, src: .r1, immediate: 0),
      .move(.r0, immediate: 2),
      .exit,
    ]

  @Test func lookupReturnsAUsablePointer() throws {
    let machine = try Machine(maps: [counters])
    let program = try machine.prepare(instructions: increment)
    for _ in 0..<3 { #expect(try machine.run(program, r1: 0) == 2) }
    #expect(machine.maps[0].lookup(key: BPFMap.key(1)) == [3, 0, 0, 0, 0, 0, 0, 0])
    #expect(machine.maps[0].lookup(key: BPFMap.key(0)) == [UInt8](repeating: 0, count: 8))
    #expect(machine.maps[0].lookup(key: BPFMap.key(4)) == nil)
  }

  @Test func perCPUArrayTouchesOnlyTheCurrentProcessor() throws {
    let definition = MapDefinition(
      name: "stats", type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 2)
    let machine = try Machine(
      maps: [definition], configuration: MachineConfiguration(processorID: 2, processorCount: 4))
    let program = try machine.prepare(instructions: increment)
    _ = try machine.run(program, r1: 0)
    let values = machine.maps[0].perProcessorValues(key: BPFMap.key(1))
    #expect(values?.map { $0[0] } == [0, 0, 1, 0])
  }

  @Test func arrayErrors() throws {
    let machine = try Machine(maps: [counters])
    let map = machine.maps[0]
    #expect(throws: MapOperationError(map: "counters", operation: "update", code: 7)) {
      try map.update(key: BPFMap.key(4), value: [UInt8](repeating: 0, count: 8))
    }
    #expect(throws: MapOperationError(map: "counters", operation: "update", code: 17)) {
      try map.update(key: BPFMap.key(0), value: [UInt8](repeating: 0, count: 8), flags: 1)
    }
    #expect(throws: MapOperationError(map: "counters", operation: "delete", code: 22)) {
      try map.delete(key: BPFMap.key(0))
    }
  }

  @Test func hashErrorsFollowTheKernel() throws {
    let definition = MapDefinition(
      name: "flows", type: .hash, keySize: 2, valueSize: 4, maxEntries: 2)
    let map = try Machine(maps: [definition]).maps[0]
    func code(_ body: () throws -> Void) -> Int32? {
      do { try body() } catch { return (error as? MapOperationError)?.code ?? -1 }
      return nil
    }
    #expect(code { try map.update(key: [1, 0], value: [1, 0, 0, 0], flags: 2) } == 2)  // EXIST, missing
    #expect(code { try map.update(key: [1, 0], value: [1, 0, 0, 0], flags: 1) } == nil)
    #expect(code { try map.update(key: [1, 0], value: [2, 0, 0, 0], flags: 1) } == 17)  // NOEXIST, present
    #expect(code { try map.update(key: [1, 0], value: [3, 0, 0, 0], flags: 3) } == 22)  // bad flags
    #expect(code { try map.update(key: [2, 0], value: [4, 0, 0, 0]) } == nil)
    #expect(code { try map.update(key: [3, 0], value: [5, 0, 0, 0]) } == 7)  // full
    #expect(code { try map.delete(key: [9, 0]) } == 2)
    #expect(map.lookup(key: [1, 0]) == [1, 0, 0, 0])
    #expect(Set(map.keys) == [[1, 0], [2, 0]])
    #expect(code { try map.delete(key: [1, 0]) } == nil)
    #expect(map.lookup(key: [1, 0]) == nil)
  }

  @Test func lruHashEvictsTheLeastRecentlyUsed() throws {
    let definition = MapDefinition(
      name: "lru", type: .lruHash, keySize: 1, valueSize: 1, maxEntries: 2)
    let map = try Machine(maps: [definition]).maps[0]
    try map.update(key: [1], value: [10])
    try map.update(key: [2], value: [20])
    try map.update(key: [1], value: [11])  // an update is a use
    try map.update(key: [3], value: [30])
    #expect(map.lookup(key: [2]) == nil)
    #expect(map.lookup(key: [1]) == [11])
    #expect(map.lookup(key: [3]) == [30])
  }

  /// A program's lookup is a use of an LRU entry; one from user space is
  /// not (the kernel's `htab_lru_map_lookup_elem_sys`), so the software
  /// datapath's reads of its maps never change what is evicted.
  @Test func onlyAProgramsLookupIsAnLRUUse() throws {
    let definition = MapDefinition(
      name: "lru", type: .lruHash, keySize: 1, valueSize: 1, maxEntries: 2)
    let machine = try Machine(maps: [definition])
    let map = machine.maps[0]
    // key = 1; lookup(map 0, &key); return 0.
    let lookupOne = try machine.prepare(
      instructions: [.store(.byte, immediate: 1, to: .r10, offset: -1)] + Instruction.map(.r1, 0)
        + [
          .move(.r2, .r10), .add(.r2, immediate: -1), .helper(.mapLookupElement),
          .move(.r0, immediate: 0), .exit,
        ])
    try map.update(key: [1], value: [10])
    try map.update(key: [2], value: [20])
    _ = try machine.run(lookupOne, r1: 0)  // a use: 2 is the least recent now
    try map.update(key: [3], value: [30])
    #expect(Set(map.keys) == [[1], [3]])
    #expect(map.lookup(key: [1]) == [10])  // not a use: 1 stays the least recent
    try map.update(key: [4], value: [40])
    #expect(Set(map.keys) == [[3], [4]])
  }

  @Test func programUpdateReturnsKernelErrors() throws {
    let definition = MapDefinition(name: "h", type: .hash, keySize: 4, valueSize: 4, maxEntries: 8)
    // Insert key 7 with BPF_NOEXIST twice; return the second result.
    let insert: [Instruction] =
      Instruction.map(.r1, 0) + [
        .move(.r2, .r10), .add(.r2, immediate: -4), .move(.r3, .r10), .add(.r3, immediate: -8),
        .move(.r4, immediate: 1), .helper(.mapUpdateElement),
      ]
    let program: [Instruction] =
      [Instruction.storeWord(7, .r10, -4), Instruction.storeWord(99, .r10, -8)] + insert + insert
      + [.exit]
    #expect(try run(program, maps: [definition]) == UInt64(bitPattern: -17))
  }

  @Test func globalDataByValueAddress() throws {
    let data = MapDefinition(
      name: ".data", type: .array, keySize: 4, valueSize: 8, maxEntries: 1,
      initialValue: [5, 0, 0, 0, 9, 0, 0, 0])
    let program =
      Instruction.loadImmediate64(.r1, 0, kind: .mapValueByIndex)
      + [.load(.word, .r0, from: .r1, offset: 4), .exit]
    #expect(try run(program, maps: [data]) == 9)
  }

  @Test func unsupportedMapTypeIsRefused() {
    let ringbuf = MapDefinition(
      name: "rb", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: 4096)
    #expect(throws: MachineError.unsupportedMap(name: "rb", type: .ringbuf)) {
      try Machine(maps: [ringbuf])
    }
  }
}
