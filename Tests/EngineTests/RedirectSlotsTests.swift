import BPF
import Testing

@testable import Engine

/// Issue 22: `redirect_map` on DEVMAP, CPUMAP and XSKMAP reads the map's
/// ``RedirectSlots`` as the kernel reads its array of entries (a bound
/// check, one load), in the interpreter's helper, in the JIT's code for a
/// handle known on every path and in its code for any handle; every
/// update and delete keeps the table in step with the map.
@Suite struct RedirectSlotsTests {
  /// Four entries each: ports (DEVMAP), cpus (CPUMAP), sockets (XSKMAP),
  /// and a DEVMAP_HASH, which is not array-indexed.
  static let maps = [
    MapDefinition(name: "ports", type: .devmap, keySize: 4, valueSize: 8, maxEntries: 4),
    MapDefinition(name: "cpus", type: .cpumap, keySize: 4, valueSize: 4, maxEntries: 4),
    MapDefinition(name: "sockets", type: .xskmap, keySize: 4, valueSize: 4, maxEntries: 4),
    MapDefinition(name: "hosts", type: .devmapHash, keySize: 4, valueSize: 4, maxEntries: 4),
  ]

  /// ports: 1 → interface 11, 3 (the last key) → 13; cpus 0 and 3;
  /// sockets 2 and 3; hosts 1 → 21.
  static func machine(_ engine: EngineKind) throws -> Machine {
    let machine = try Machine(
      maps: maps, configuration: MachineConfiguration(engine: engine))
    try machine.maps[0].update(key: BPFMap.key(1), value: BPFMap.key(11) + [7, 7, 7, 7])
    try machine.maps[0].update(key: BPFMap.key(3), value: BPFMap.key(13) + [0, 0, 0, 0])
    for key: UInt32 in [0, 3] {
      try machine.maps[1].update(key: BPFMap.key(key), value: [64, 0, 0, 0])
    }
    for key: UInt32 in [2, 3] {
      try machine.maps[2].update(key: BPFMap.key(key), value: [0, 0, 0, 0])
    }
    try machine.maps[3].update(key: BPFMap.key(1), value: BPFMap.key(21))
    return machine
  }

  /// `r0 = redirect_map(map, key, flags)`, the map's handle known on every path.
  static func pinned(map: Int, key: Int32, flags: Int32) -> [Instruction] {
    InlineMapLookupTests.redirect(map: map, key: key, flags: flags)
  }

  /// The same with R1 one of two maps, chosen by the R1 the program is
  /// run with (0: `map`, else `other`): a handle no compile-time rule pins.
  static func unpinned(map: Int, other: Int, key: Int32, flags: Int32) -> [Instruction] {
    [.jump(.jeq, .r1, immediate: 0, offset: 3)]
      + Instruction.loadImmediate64(.r1, UInt64(other), kind: .mapByIndex) + [.jump(offset: 2)]
      + Instruction.loadImmediate64(.r1, UInt64(map), kind: .mapByIndex) + [
        .move(.r2, immediate: key), .move(.r3, immediate: flags),
        .call(helper: HelperFunction.redirectMap.rawValue), .exit,
      ]
  }

  /// One case: R0 (or the error) and the pending redirect after it.
  static func outcome(_ machine: Machine, _ instructions: [Instruction], r1: UInt64 = 0) throws
    -> String
  {
    let program = try machine.prepare(instructions: instructions)
    machine.pendingRedirect = .interface(9)
    do {
      let r0 = try machine.run(program, r1: r1)
      return "R0 = \(r0) \(machine.pendingRedirect.map { "\($0)" } ?? "none")"
    } catch {
      return "\(error)"
    }
  }

  /// Every case on one machine per engine, with `between` run on each
  /// machine after the first `split` cases: the outcomes per engine.
  static func run(
    _ cases: [(instructions: [Instruction], r1: UInt64)], split: Int? = nil,
    between: (Machine) throws -> Void = { _ in }
  ) throws -> [EngineKind: (outcomes: [String], machine: Machine)] {
    var result: [EngineKind: (outcomes: [String], machine: Machine)] = [:]
    for engine in EngineKind.allCases {
      let machine = try Self.machine(engine)
      var outcomes: [String] = []
      for (number, item) in cases.enumerated() {
        if number == split { try between(machine) }
        outcomes.append(try Self.outcome(machine, item.instructions, r1: item.r1))
      }
      if engine == .jit { #expect(machine.engineFallback == nil) }
      result[engine] = (outcomes, machine)
    }
    #expect(result[.jit]!.outcomes == result[.interpreter]!.outcomes)
    return result
  }

  /// Keys: a hit, an empty slot, the last key (max_entries - 1), keys at
  /// and past max_entries, and a key whose low 32 bits hit (the helper's
  /// key is a `u32`); flags: none, action bits as the miss verdict, and
  /// bits outside the map's set (XDP_ABORTED, nothing pending changes).
  static let keys: [Int32] = [0, 1, 2, 3, 4, -1]
  static let flags: [Int32] = [0, 2, 3, 32, 4]

  @Test(arguments: [0, 1, 2])
  func pinnedRedirectReadsTheTable(map: Int) throws {
    var cases: [(instructions: [Instruction], r1: UInt64)] = []
    for key in Self.keys {
      for flag in Self.flags { cases.append((Self.pinned(map: map, key: key, flags: flag), 0)) }
    }
    let result = try Self.run(cases)
    let outcomes = result[.jit]!.outcomes
    #expect(result[.jit]!.machine.jit.swiftCalls == 0, "every redirect inline")
    func at(_ key: Int, _ flag: Int) -> String { outcomes[key * Self.flags.count + flag] }
    let hits: [Int: String]
    switch map {
    case 0:
      hits = [
        1: "device(map: 0, key: 1, interface: 11)", 3: "device(map: 0, key: 3, interface: 13)",
      ]
    case 1: hits = [0: "processor(map: 1, cpu: 0)", 3: "processor(map: 1, cpu: 3)"]
    default: hits = [2: "socket(map: 2, queue: 2)", 3: "socket(map: 2, queue: 3)"]
    }
    for key in 0..<Self.keys.count {
      for (number, flag) in Self.flags.enumerated() {
        let expected: String
        if flag == 32 || flag == 4 {
          expected = "R0 = 0 interface(9)"  // refused: nothing changes
        } else if let hit = hits[key] {
          expected = "R0 = 4 \(hit)"
        } else {
          expected = "R0 = \(flag & 3) none"
        }
        #expect(at(key, number) == expected, "map \(map) key \(Self.keys[key]) flags \(flag)")
      }
    }
  }

  /// Updates and deletes between runs: a new interface for a stored key,
  /// a new entry, a deleted one; the redirects see each at once.
  @Test(arguments: [false, true])
  func updatesAndDeletesReachTheNextRedirect(unpinned: Bool) throws {
    func redirect(_ map: Int, _ key: Int32) -> (instructions: [Instruction], r1: UInt64) {
      unpinned
        ? (Self.unpinned(map: map, other: 3, key: key, flags: 1), 0)
        : (Self.pinned(map: map, key: key, flags: 1), 0)
    }
    let cases = [
      redirect(0, 1), redirect(0, 2), redirect(1, 0), redirect(1, 1), redirect(2, 3),
      redirect(2, 1),
    ]
    let result = try Self.run(cases + cases, split: cases.count) { machine in
      try machine.maps[0].update(key: BPFMap.key(1), value: BPFMap.key(31) + [0, 0, 0, 0])
      try machine.maps[0].update(key: BPFMap.key(2), value: BPFMap.key(32) + [0, 0, 0, 0])
      let _: Void = try machine.maps[1].delete(key: BPFMap.key(0))
      try machine.maps[1].update(key: BPFMap.key(1), value: [64, 0, 0, 0])
      let _: Void = try machine.maps[2].delete(key: BPFMap.key(3))
      try machine.maps[2].update(key: BPFMap.key(1), value: [0, 0, 0, 0])
    }
    #expect(
      result[.jit]!.outcomes == [
        "R0 = 4 device(map: 0, key: 1, interface: 11)", "R0 = 1 none",
        "R0 = 4 processor(map: 1, cpu: 0)", "R0 = 1 none",
        "R0 = 4 socket(map: 2, queue: 3)", "R0 = 1 none",
        "R0 = 4 device(map: 0, key: 1, interface: 31)",
        "R0 = 4 device(map: 0, key: 2, interface: 32)",
        "R0 = 1 none", "R0 = 4 processor(map: 1, cpu: 1)",
        "R0 = 1 none", "R0 = 4 socket(map: 2, queue: 1)",
      ])
    #expect(result[.jit]!.machine.jit.swiftCalls == 0, "every redirect inline")
  }

  /// R1 one of two maps on two paths: the JIT's code for any handle gives
  /// the same answers as the pinned code, a DEVMAP_HASH's by its probe.
  @Test func unpinnedHandlesTakeEitherMap() throws {
    var cases: [(instructions: [Instruction], r1: UInt64)] = []
    for (map, other) in [(0, 1), (1, 2), (2, 0), (0, 3)] {
      for key: Int32 in [1, 3, 4] {
        for r1: UInt64 in [0, 1] {
          cases.append((Self.unpinned(map: map, other: other, key: key, flags: 2), r1))
        }
      }
    }
    let result = try Self.run(cases)
    let outcomes = result[.jit]!.outcomes
    #expect(result[.jit]!.machine.jit.swiftCalls == 0, "every redirect inline")
    #expect(outcomes[0] == "R0 = 4 device(map: 0, key: 1, interface: 11)")
    #expect(outcomes[1] == "R0 = 2 none", "cpus has no key 1")
    #expect(outcomes[3] == "R0 = 4 processor(map: 1, cpu: 3)")
    #expect(outcomes[5] == "R0 = 2 none", "key 4 = max_entries")
    #expect(outcomes[7] == "R0 = 2 none", "sockets has no key 1")
    #expect(outcomes[19] == "R0 = 4 device(map: 3, key: 1, interface: 21)")
    #expect(outcomes[20] == "R0 = 4 device(map: 0, key: 3, interface: 13)")
  }

  /// A handle known on every path compiles to the bound check and load
  /// alone: the general code (descriptor lookup, kind and flags words,
  /// the DEVMAP_HASH probe with its pushes) is gone. The two programs
  /// differ otherwise by a branch and a second `ld_imm64` (under 40 bytes).
  @Test func aPinnedHandleLeavesTheGeneralCodeOut() throws {
    func size(_ instructions: [Instruction]) throws -> Int {
      let machine = try Self.machine(.jit)
      return try machine.nativeCode(for: machine.prepare(instructions: instructions)).bytes.count
    }
    let pinned = try size(Self.pinned(map: 0, key: 1, flags: 0))
    let unpinned = try size(Self.unpinned(map: 0, other: 1, key: 1, flags: 0))
    #expect(unpinned - pinned > 150, "pinned \(pinned) bytes, unpinned \(unpinned)")
  }

  /// A DEVMAP entry names the device it was stored with, as the kernel's
  /// entry holds the device `dev_get_by_index` found at update time; a
  /// program cannot write the value through its lookup (the kernel's
  /// verifier refuses it, `BPF_F_RDONLY_PROG`; the engine's write table
  /// too, where the static check does not look): the store faults, in
  /// both engines alike, and the value and the redirect stay.
  @Test func aDeviceEntryKeepsTheInterfaceItWasStoredWith() throws {
    let program =
      [
        .store(.word, immediate: 1, to: .r10, offset: -4), .move(.r2, .r10),
        .add(.r2, immediate: -4),
      ]
      + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [
        .call(helper: HelperFunction.mapLookupElement.rawValue),
        .jump(.jeq, .r0, immediate: 0, offset: 1),
        .store(.word, immediate: 99, to: .r0, offset: 0),
      ] + Self.pinned(map: 0, key: 1, flags: 0)
    let result = try Self.run([(program, 0), (Self.pinned(map: 0, key: 1, flags: 0), 0)])
    let machine = result[.jit]!.machine
    let values = try #require(machine.addressSpace.regions.first { $0.name == "map ports" })
    let fault = ExecutionError.memoryFault(
      index: 7, address: UInt64(values.start), size: 4, write: true)
    #expect(
      result[.jit]!.outcomes == [
        "\(fault)", "R0 = 4 device(map: 0, key: 1, interface: 11)",
      ])
    #expect(machine.maps[0].lookup(key: BPFMap.key(1)) == BPFMap.key(11) + [7, 7, 7, 7])
  }

  /// The table costs a page of the memory budget per page a key is stored
  /// in, given back with the map.
  @Test func theTableIsChargedByThePage() throws {
    let budget = MemoryBudget(limit: 1 << 30)
    let definition = MapDefinition(
      name: "wide", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 1 << 26)
    do {
      let machine = try Machine(
        maps: [definition], configuration: MachineConfiguration(memoryBudget: budget))
      let before = budget.used
      try machine.maps[0].update(key: BPFMap.key(0), value: BPFMap.key(5))
      #expect(budget.used - before >= AddressSpace.pageSize + BPFMap.bookkeepingPerSlot)
      // Key 255 shares key 0's page of the table; the last key has its own.
      let first = budget.used
      try machine.maps[0].update(key: BPFMap.key(255), value: BPFMap.key(5))
      #expect(budget.used - first == BPFMap.bookkeepingPerSlot)
      let second = budget.used
      try machine.maps[0].update(key: BPFMap.key((1 << 26) - 1), value: BPFMap.key(6))
      #expect(budget.used - second == BPFMap.bookkeepingPerSlot + AddressSpace.pageSize)
      #expect(machine.maps[0].redirects?[(1 << 26) - 1].value == 6)
    }
    #expect(budget.used == 0)
  }
}
