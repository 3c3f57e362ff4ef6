import BPF
import TestSupport
import Testing

@testable import Engine

/// Map values programs may not write (``MapDefinition/programsMayWrite``:
/// `BPF_F_RDONLY_PROG`, so `.rodata`, DEVMAP and DEVMAP_HASH; XSKMAP's
/// read-only socket; CPUMAP) or read (`BPF_F_WRONLY_PROG`), and the map
/// helpers the kernel's verifier refuses on them: refused when the program
/// is prepared (``MapAccessRules``), with the verifier's words and the
/// map's name; a store the static check does not follow faults at run
/// time, alike in both engines.
@Suite struct ReadOnlyMapValueTests: ReadOnlyMapSuite {
  static let prefix = "the kernel refuses this in an XDP program: "

  /// R0 = lookup(map, key 0) (slots 0 - 5), then `body` on the non-null
  /// path (from slot 7); XDP_PASS.
  static func lookup(_ map: Int, then body: [Instruction]) -> [Instruction] {
    [.store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10), .add(.r2, immediate: -4)]
      + Instruction.map(.r1, map) + [
        .helper(.mapLookupElement), .jump(.jeq, .r0, immediate: 0, offset: Int16(body.count)),
      ] + body + [.move(.r0, immediate: 2), .exit]
  }

  /// `r1 = &rodata + offset` (two slots).
  static func rodataValue(_ register: Register = .r1, offset: UInt32 = 0) -> [Instruction] {
    Instruction.loadImmediate64(
      register, UInt64(rodata) | UInt64(offset) << 32, kind: .mapValueByIndex)
  }

  /// What `Machine.prepare` (the kernel's rules) says of `instructions`:
  /// nil when it prepares them.
  static func refusal(_ instructions: [Instruction]) throws -> String? {
    let machine = try Machine(maps: maps)
    do {
      _ = try machine.prepare(Program(name: "p", sectionName: "xdp", instructions: instructions))
      return nil
    } catch {
      return error.description
    }
  }

  @Test func aStoreIntoADevmapValueThroughItsLookupIsRefused() throws {
    let store = Self.lookup(Self.ports, then: [.store(.word, immediate: 7, to: .r0, offset: 0)])
    #expect(
      try Self.refusal(store)
        == "instruction 7: \(Self.prefix)write into map forbidden, value_size=4 off=0 size=4"
        + " (map ports)")
    // Moved by a constant, spilled and filled, on a copy: still the value.
    let moved = Self.lookup(
      Self.ports,
      then: [
        .add(.r0, immediate: 2), .store(.doubleWord, .r0, to: .r10, offset: -16),
        .load(.doubleWord, .r3, from: .r10, offset: -16), .move(.r4, .r3),
        .store(.halfWord, .r2, to: .r4, offset: 0),
      ])
    #expect(
      try Self.refusal(moved)
        == "instruction 11: \(Self.prefix)write into map forbidden, value_size=4 off=2 size=2"
        + " (map ports)")
    // DEVMAP_HASH likewise, an atomic too; reading either is allowed.
    let atomic = Instruction(
      opcode: Opcode.memory(.stx, .atomic, .word), dst: .r0, src: .r2, offset: 0,
      immediate: AtomicOperation.add.rawValue)
    #expect(
      try Self.refusal(Self.lookup(Self.hosts, then: [atomic]))
        == "instruction 7: \(Self.prefix)write into map forbidden, value_size=4 off=0 size=4"
        + " (map hosts)")
    for map in [Self.ports, Self.hosts] {
      #expect(
        try Self.refusal(Self.lookup(map, then: [.load(.word, .r3, from: .r0, offset: 0)])) == nil)
    }
  }

  @Test func aStoreIntoRodataIsRefusedAndReadsAreNot() throws {
    let direct =
      Self.rodataValue(offset: 8) + [
        .store(.doubleWord, immediate: 1, to: .r1, offset: 4), .move(.r0, immediate: 2), .exit,
      ]
    #expect(
      try Self.refusal(direct)
        == "instruction 2: \(Self.prefix)write into map forbidden, value_size=16 off=12 size=8"
        + " (map xdp_prog.rodata)")
    let looked = Self.lookup(Self.rodata, then: [.store(.byte, .r1, to: .r0, offset: 15)])
    #expect(
      try Self.refusal(looked)
        == "instruction 7: \(Self.prefix)write into map forbidden, value_size=16 off=15 size=1"
        + " (map xdp_prog.rodata)")
    let reads =
      Self.rodataValue() + [
        .load(.doubleWord, .r0, from: .r1, offset: 8), .arithmetic(.and, .r0, immediate: 3), .exit,
      ]
    #expect(try Self.refusal(reads) == nil)
    // An ordinary array's value stays writable, a write-only one's unreadable.
    #expect(
      try Self.refusal(
        Self.lookup(Self.values, then: [.store(.doubleWord, .r1, to: .r0, offset: 0)])) == nil)
    #expect(
      try Self.refusal(Self.lookup(Self.sink, then: [.load(.word, .r3, from: .r0, offset: 4)]))
        == "instruction 7: \(Self.prefix)read from map forbidden, value_size=8 off=4 size=4"
        + " (map sink)")
    #expect(
      try Self.refusal(Self.lookup(Self.sink, then: [.store(.word, .r1, to: .r0, offset: 4)]))
        == nil)
  }

  @Test func anXskmapLookupIsAReadOnlySocket() throws {
    #expect(
      try Self.refusal(Self.lookup(Self.sockets, then: [.store(.word, .r2, to: .r0, offset: 0)]))
        == "instruction 7: \(Self.prefix)R0 cannot write into xdp_sock (map sockets)")
    #expect(
      try Self.refusal(Self.lookup(Self.sockets, then: [.load(.word, .r2, from: .r0, offset: 0)]))
        == nil)
  }

  @Test func mapHelpersTheVerifierRefuses() throws {
    func call(_ helper: HelperFunction, on map: Int) -> [Instruction] {
      [
        .store(.doubleWord, immediate: 0, to: .r10, offset: -8), .move(.r2, .r10),
        .add(.r2, immediate: -8), .move(.r3, .r10), .add(.r3, immediate: -8),
        .move(.r4, immediate: 0),
      ] + Instruction.map(.r1, map) + [.helper(helper), .move(.r0, immediate: 2), .exit]
    }
    let forbidden = "instruction 8: \(Self.prefix)write into map forbidden"
    for helper in [HelperFunction.mapUpdateElement, .mapDeleteElement] {
      #expect(try Self.refusal(call(helper, on: Self.ports)) == "\(forbidden) (map ports)")
      #expect(try Self.refusal(call(helper, on: Self.hosts)) == "\(forbidden) (map hosts)")
      #expect(
        try Self.refusal(call(helper, on: Self.rodata)) == "\(forbidden) (map xdp_prog.rodata)")
      #expect(
        try Self.refusal(call(helper, on: Self.sockets))
          == "instruction 8: \(Self.prefix)cannot pass map_type 17 into func \(helper) (map sockets)"
      )
      #expect(try Self.refusal(call(helper, on: Self.values)) == nil)
    }
    for helper in [HelperFunction.mapLookupElement, .mapUpdateElement, .mapDeleteElement] {
      #expect(
        try Self.refusal(call(helper, on: Self.cpus))
          == "instruction 8: \(Self.prefix)cannot pass map_type 16 into func \(helper) (map cpus)")
    }
    // bpf_xdp_load_bytes(ctx, 0, buffer, 8) fills its buffer: not .rodata.
    let load =
      Self.rodataValue(.r3, offset: 4) + [
        .move(.r2, immediate: 0), .move(.r4, immediate: 8), .helper(.xdpLoadBytes),
        .move(.r0, immediate: 2), .exit,
      ]
    #expect(
      try Self.refusal(load)
        == "instruction 4: \(Self.prefix)write into map forbidden, value_size=16 off=4 size=8"
        + " (map xdp_prog.rodata)")
    // .rodata as what a helper reads: allowed (an update's value, a store's bytes).
    let update =
      Instruction.map(.r1, Self.values) + [
        .store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10),
        .add(.r2, immediate: -4),
      ] + Self.rodataValue(.r3) + [.move(.r4, immediate: 0), .helper(.mapUpdateElement), .exit]
    #expect(try Self.refusal(update) == nil)
    let store =
      Self.rodataValue(.r3) + [
        .move(.r2, immediate: 0), .move(.r4, immediate: 8), .helper(.xdpStoreBytes), .exit,
      ]
    #expect(try Self.refusal(store) == nil)
  }

  // MARK: Run time: what the static check does not follow.

  /// One packet through `engine`: the error or verdict, the instructions
  /// executed, and the region of `map`'s values.
  static func run(_ instructions: [Instruction], _ engine: EngineKind, map: Int, checked: Bool)
    throws -> (String, Int, UInt64)
  {
    let machine = try Machine(maps: maps, configuration: MachineConfiguration(engine: engine))
    try machine.maps[ports].update(key: [1, 0, 0, 0], value: [7, 0, 0, 0])
    try machine.maps[hosts].update(key: [1, 0, 0, 0], value: [7, 0, 0, 0])
    let program =
      checked
      ? try machine.prepare(Program(name: "p", sectionName: "xdp", instructions: instructions))
      : try machine.prepare(instructions: instructions)
    let runner = try PacketRunner(machine: machine, program: program, form: .perPacket)
    let region = try #require(
      machine.addressSpace.regions.first { $0.name == "map \(maps[map].name)" })
    let result = runner.oneFrameOutcome()
    if engine == .jit { #expect(machine.engineFallback == nil) }
    #expect(machine.maps[ports].lookup(key: [1, 0, 0, 0]) == [7, 0, 0, 0])
    #expect(machine.maps[hosts].lookup(key: [1, 0, 0, 0]) == [7, 0, 0, 0])
    return (result, machine.lastInstructionCount, UInt64(region.start))
  }

  /// Both engines' outcomes, which must agree (the count too).
  static func alike(
    _ instructions: [Instruction], map: Int, checked: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> (String, UInt64) {
    let interpreted = try run(instructions, .interpreter, map: map, checked: checked)
    let compiled = try run(instructions, .jit, map: map, checked: checked)
    #expect(compiled.0 == interpreted.0, sourceLocation: sourceLocation)
    #expect(compiled.1 == interpreted.1, sourceLocation: sourceLocation)
    return (compiled.0, compiled.2)
  }

  static func fault(_ index: Int, _ address: UInt64, _ size: Int) -> String {
    "\(RunError.execution(packet: 0, .memoryFault(index: index, address: address, size: size, write: true)))"
  }

  /// R0 = lookup(map, key 1), laundered through the `values` array (stored
  /// and read back as a number), then `body` through R7 from slot 17.
  static func laundered(_ map: Int, _ body: [Instruction]) -> [Instruction] {
    [.store(.word, immediate: 1, to: .r10, offset: -4), .move(.r2, .r10), .add(.r2, immediate: -4)]
      + Instruction.map(.r1, map) + [
        .helper(.mapLookupElement), .jump(.jeq, .r0, immediate: 0, offset: Int16(body.count + 10)),
        .move(.r6, .r0), .store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10),
        .add(.r2, immediate: -4),
      ] + Instruction.map(.r1, values) + [
        .helper(.mapLookupElement), .jump(.jeq, .r0, immediate: 0, offset: Int16(body.count + 2)),
        .store(.doubleWord, .r6, to: .r0, offset: 0), .load(.doubleWord, .r7, from: .r0, offset: 0),
      ] + body + [.move(.r0, immediate: 2), .exit]
  }

  @Test func aLaunderedStoreIntoADevmapValueFaultsInBothEngines() throws {
    for map in [Self.ports, Self.hosts] {
      let body: [Instruction] = [.store(.word, immediate: 9, to: .r7, offset: 0)]
      let (outcome, values) = try Self.alike(Self.laundered(map, body), map: map, checked: true)
      #expect(outcome == Self.fault(17, values, 4), "\(Self.maps[map].name)")
      // A load through it reads the entry.
      let load: [Instruction] = [.load(.word, .r0, from: .r7, offset: 0), .exit]
      #expect(try Self.alike(Self.laundered(map, load), map: map, checked: true).0 == "aborted 7")
    }
  }

  @Test func aStoreTheStaticCheckWouldRefuseFaultsInBothEngines() throws {
    // Not through the kernel's rules: the lookup's pointer itself, checked
    // for null, which the JIT proves inside DEVMAP_HASH's value for loads.
    let store = Self.lookup(Self.rodata, then: [.store(.word, .r2, to: .r0, offset: 0)])
    let (stored, rodata) = try Self.alike(store, map: Self.rodata)
    #expect(stored == Self.fault(7, rodata, 4))
    for map in [Self.ports, Self.hosts] {
      let body: [Instruction] = [
        .load(.word, .r3, from: .r0, offset: 0), .store(.word, .r3, to: .r0, offset: 0),
      ]
      // Key 1, which has an entry.
      let keyed =
        [Instruction.store(.word, immediate: 1, to: .r10, offset: -4)]
        + Self.lookup(map, then: body).dropFirst()
      let (outcome, values) = try Self.alike(keyed, map: map)
      #expect(outcome == Self.fault(8, values, 4), "\(Self.maps[map].name)")
    }
    // .rodata through its ld_imm64, and an atomic on it.
    let atomic = Instruction(
      opcode: Opcode.memory(.stx, .atomic, .doubleWord), dst: .r1, src: .r2, offset: 8,
      immediate: AtomicOperation.add.rawValue)
    let (outcome, values) = try Self.alike(
      Self.rodataValue() + [.move(.r2, immediate: 1), atomic, .move(.r0, immediate: 2), .exit],
      map: Self.rodata)
    #expect(outcome == Self.fault(3, values + 8, 8))
  }

  @Test func xdpLoadBytesIntoRodataFaultsInBothEngines() throws {
    let load =
      [Instruction.move(.r6, .r1)] + Self.rodataValue(.r3, offset: 4) + [
        .move(.r1, .r6), .move(.r2, immediate: 0), .move(.r4, immediate: 8),
        .helper(.xdpLoadBytes), .move(.r0, immediate: 2), .exit,
      ]
    let (outcome, values) = try Self.alike(load, map: Self.rodata)
    #expect(outcome == Self.fault(6, values + 4, 8))
  }

  @Test func theUserSideStillWritesTheseValues() throws {
    let machine = try Machine(maps: Self.maps)
    try machine.maps[Self.ports].update(key: [2, 0, 0, 0], value: [5, 0, 0, 0])
    #expect(machine.maps[Self.ports].lookup(key: [2, 0, 0, 0]) == [5, 0, 0, 0])
    #expect(machine.maps[Self.rodata].lookup(key: [0, 0, 0, 0]) == Array(1...16))
    try machine.maps[Self.rodata].update(key: [0, 0, 0, 0], value: Array(repeating: 3, count: 16))
    #expect(machine.maps[Self.rodata].lookup(key: [0, 0, 0, 0]) == Array(repeating: 3, count: 16))
  }
}
