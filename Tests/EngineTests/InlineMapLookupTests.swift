import BPF
import Testing

@testable import Engine

/// Issue 22: `map_lookup_elem` on keyed maps (hash, per-CPU hash, LRU,
/// device, CPU and socket maps) and `redirect_map` run as machine code
/// over the maps' ``MapKeyTable``, with the interpreter's results, LRU
/// order and pending redirect, and no call into Swift.
@Suite struct InlineMapLookupTests {
  static let maps = [
    MapDefinition(name: "flows", type: .hash, keySize: 4, valueSize: 8, maxEntries: 64),
    MapDefinition(name: "pairs", type: .perCPUHash, keySize: 8, valueSize: 12, maxEntries: 64),
    MapDefinition(name: "recent", type: .lruHash, keySize: 4, valueSize: 8, maxEntries: 4),
    MapDefinition(name: "macs", type: .hash, keySize: 6, valueSize: 8, maxEntries: 8),
    MapDefinition(name: "ports", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 8),
    MapDefinition(name: "cpus", type: .cpumap, keySize: 4, valueSize: 4, maxEntries: 4),
    MapDefinition(name: "sockets", type: .xskmap, keySize: 4, valueSize: 4, maxEntries: 4),
    MapDefinition(name: "hosts", type: .devmapHash, keySize: 4, valueSize: 4, maxEntries: 8),
  ]

  /// A machine with entries: flows 1..40 (many probes), pairs (k, k+1)
  /// for k < 10, recent 1..4, macs 1, ports/hosts even keys, cpus and
  /// sockets 1 and 3.
  static func machine(_ engine: EngineKind) throws -> Machine {
    let machine = try Machine(
      maps: maps,
      configuration: MachineConfiguration(processorID: 1, processorCount: 2, engine: engine))
    func value(_ n: UInt32, _ size: Int) -> [UInt8] {
      BPFMap.key(n) + [UInt8](repeating: 0, count: size - 4)
    }
    for k in UInt32(1)...40 { try machine.maps[0].update(key: BPFMap.key(k), value: value(k, 8)) }
    for k in UInt32(0)..<10 {
      try machine.maps[1].update(key: BPFMap.key(k) + BPFMap.key(k + 1), value: value(k, 12))
    }
    for k in UInt32(1)...4 { try machine.maps[2].update(key: BPFMap.key(k), value: value(k, 8)) }
    try machine.maps[3].update(key: [1, 0, 0, 0, 0, 0], value: value(1, 8))
    for k in stride(from: UInt32(0), to: 8, by: 2) {
      try machine.maps[4].update(key: BPFMap.key(k), value: BPFMap.key(100 + k))
      try machine.maps[7].update(key: BPFMap.key(k), value: BPFMap.key(200 + k))
    }
    for k: UInt32 in [1, 3] {
      try machine.maps[5].update(key: BPFMap.key(k), value: BPFMap.key(64))
      try machine.maps[6].update(key: BPFMap.key(k), value: BPFMap.key(0))
    }
    return machine
  }

  /// `r0 = lookup(map, key)` with the key's words at r10 - 8 and r10 - 4.
  static func lookup(map: Int, _ words: [UInt32]) -> [Instruction] {
    var program: [Instruction] = []
    for (n, word) in words.enumerated() {
      program.append(
        .store(.word, immediate: Int32(bitPattern: word), to: .r10, offset: Int16(-8 + 4 * n)))
    }
    program += [.move(.r2, .r10), .add(.r2, immediate: -8)]
    program += Instruction.loadImmediate64(.r1, UInt64(map), kind: .mapByIndex)
    return program + [.call(helper: HelperFunction.mapLookupElement.rawValue), .exit]
  }

  /// `r0 = redirect_map(map, key, flags)`.
  static func redirect(map: Int, key: Int32, flags: Int32) -> [Instruction] {
    Instruction.loadImmediate64(.r1, UInt64(map), kind: .mapByIndex) + [
      .move(.r2, immediate: key), .move(.r3, immediate: flags),
      .call(helper: HelperFunction.redirectMap.rawValue), .exit,
    ]
  }

  /// Runs `programs` in order on one machine per engine: each R0 (or
  /// error) and pending redirect, the Swift calls, and the machines.
  static func run(_ programs: [[Instruction]]) throws
    -> [EngineKind: (results: [String], calls: Int, machine: Machine)]
  {
    var outcome: [EngineKind: (results: [String], calls: Int, machine: Machine)] = [:]
    for engine in EngineKind.allCases {
      let machine = try Self.machine(engine)
      var results: [String] = []
      for instructions in programs {
        let program = try machine.prepare(instructions: instructions)
        machine.pendingRedirect = .interface(9)
        do {
          let r0 = try machine.run(program, r1: 0)
          results.append(
            "R0 = 0x\(String(r0, radix: 16)) \(String(describing: machine.pendingRedirect))")
        } catch {
          results.append("\(error)")
        }
      }
      if engine == .jit { #expect(machine.engineFallback == nil) }
      outcome[engine] = (results, machine.jit.swiftCalls, machine)
    }
    return outcome
  }

  @Test func keyedLookupsRunInline() throws {
    var programs: [[Instruction]] = []
    for key: UInt32 in [0, 1, 17, 40, 41, 0xffff_ffff] {
      programs.append(Self.lookup(map: 0, [key]))
    }
    for key: UInt32 in [0, 5, 9, 10] { programs.append(Self.lookup(map: 1, [key, key + 1])) }
    programs.append(Self.lookup(map: 1, [3, 3]))
    for key: UInt32 in [0, 2, 3, 6, 8] { programs.append(Self.lookup(map: 4, [key])) }
    for key: UInt32 in [1, 2] {
      programs.append(Self.lookup(map: 5, [key]))
      programs.append(Self.lookup(map: 7, [key]))
    }
    let outcome = try Self.run(programs)
    let (interpreted, compiled) = (outcome[.interpreter]!, outcome[.jit]!)
    #expect(compiled.results == interpreted.results)
    #expect(compiled.calls == 0, "every lookup inline")
    // A hit is the value's address for processor 1; a miss is 0.
    let flows = compiled.machine.maps[0]
    let address = flows.valueAddress(slot: flows.slot(for: BPFMap.key(17))!, processor: 1)
    #expect(compiled.results[2].hasPrefix("R0 = 0x\(String(address, radix: 16)) "))
    #expect(compiled.results[4].hasPrefix("R0 = 0x0 "))
    let pairs = compiled.machine.maps[1]
    let pair = pairs.valueAddress(
      slot: pairs.slot(for: BPFMap.key(5) + BPFMap.key(6))!, processor: 1)
    #expect(compiled.results[7].hasPrefix("R0 = 0x\(String(pair, radix: 16)) "))
    #expect(compiled.results[10].hasPrefix("R0 = 0x0 "), "pairs (3, 3) absent")
  }

  /// A key of 6 bytes is not read by the probe: the call into Swift
  /// gives the answer; a key pointer outside every region faults as the
  /// interpreter's helper reports it.
  @Test func lookupsTheProbeDoesNotCoverGetTheEnginesAnswer() throws {
    var outside = Self.lookup(map: 0, [1])
    outside.insert(.move(.r2, immediate: 8), at: outside.count - 4)
    let outcome = try Self.run([Self.lookup(map: 3, [1, 0]), outside])
    let (interpreted, compiled) = (outcome[.interpreter]!, outcome[.jit]!)
    #expect(compiled.results == interpreted.results)
    #expect(compiled.results[0] != "R0 = 0x0 Optional(Engine.RedirectTarget.interface(9))")
    #expect(compiled.results[1].contains("read of 4 bytes at 0x8 is out of bounds"))
    #expect(compiled.calls == 2)
  }

  /// A program's lookups make an LRU entry the most recent, in the JIT's
  /// code as in the engine's: the entries evicted next are the same.
  @Test func lruLookupsKeepTheEnginesOrder() throws {
    let lookups = [1, 2, 2, 4, 1, 2, 2].map { Self.lookup(map: 2, [UInt32($0)]) }
    let outcome = try Self.run(lookups)
    #expect(outcome[.jit]!.results == outcome[.interpreter]!.results)
    #expect(outcome[.jit]!.calls == 0)
    var kept: [EngineKind: [[UInt8]]] = [:]
    for (engine, run) in outcome {
      // Recency was 4 3 2 1 (the tail, 1, then the middle, then the
      // head were used); now 2 1 4 3: two inserts evict 3, then 4.
      try run.machine.maps[2].update(key: BPFMap.key(5), value: BPFMap.key(5) + [0, 0, 0, 0])
      try run.machine.maps[2].update(key: BPFMap.key(6), value: BPFMap.key(6) + [0, 0, 0, 0])
      kept[engine] = run.machine.maps[2].keys.sorted { BPFMap.index($0) < BPFMap.index($1) }
    }
    #expect(kept[.jit] == [1, 2, 5, 6].map { BPFMap.key($0) })
    #expect(kept[.jit] == kept[.interpreter])
  }

  /// `redirect_map` on every map it takes: hits, misses (the flags' low
  /// bits), flags the map refuses, a deleted entry; broadcast goes to Swift.
  @Test func redirectMapRunsInline() throws {
    var programs: [[Instruction]] = []
    for map in [4, 5, 6, 7] {
      for (key, flags): (Int32, Int32) in [
        (0, 0), (2, 2), (1, 2), (3, 1), (9, 0), (-1, 3), (2, 32),
      ] {
        programs.append(Self.redirect(map: map, key: key, flags: flags))
      }
    }
    let outcome = try Self.run(programs)
    let (interpreted, compiled) = (outcome[.interpreter]!, outcome[.jit]!)
    #expect(compiled.results == interpreted.results)
    #expect(compiled.calls == 0)
    #expect(
      compiled.results[1]
        == "R0 = 0x4 Optional(Engine.RedirectTarget.device(map: 4, key: 2, interface: 102))")
    #expect(compiled.results[2] == "R0 = 0x2 nil")
    #expect(compiled.results[6] == "R0 = 0x0 Optional(Engine.RedirectTarget.interface(9))")
    #expect(
      compiled.results[10] == "R0 = 0x4 Optional(Engine.RedirectTarget.processor(map: 5, cpu: 3))")
    #expect(
      compiled.results[17] == "R0 = 0x4 Optional(Engine.RedirectTarget.socket(map: 6, queue: 3))")
    #expect(
      compiled.results[22]
        == "R0 = 0x4 Optional(Engine.RedirectTarget.device(map: 7, key: 2, interface: 202))")
    // An entry deleted (as the kernel's deletes are folded in) misses.
    for engine in EngineKind.allCases {
      let machine = outcome[engine]!.machine
      let _: Void = try machine.maps[4].delete(key: BPFMap.key(2))
      let program = try machine.prepare(instructions: Self.redirect(map: 4, key: 2, flags: 1))
      #expect(try machine.run(program, r1: 0) == 1, "\(engine)")
      #expect(machine.pendingRedirect == nil)
    }
    #expect(outcome[.jit]!.machine.jit.swiftCalls == 0)
    // Broadcast: the engine's own code, the same target.
    let broadcast = try Self.run([Self.redirect(map: 4, key: 0, flags: 8 | 16)])
    #expect(broadcast[.jit]!.results == broadcast[.interpreter]!.results)
    #expect(broadcast[.jit]!.calls == 1)
  }
}
