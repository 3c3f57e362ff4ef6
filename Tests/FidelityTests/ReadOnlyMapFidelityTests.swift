import BPF
import Engine
import Kernel
import TestSupport
import Testing

/// The engine refuses the uses of read-only (and write-only) map values and
/// the map helpers that the running kernel's verifier refuses, and only
/// those (``MapAccessRules``): each program below is loaded into the kernel
/// and prepared by the engine; both refuse it or both accept it, and a
/// refusal names the same instruction, in the verifier's words.
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct ReadOnlyMapFidelityTests: ReadOnlyMapSuite {
  struct Case: CustomTestStringConvertible, Sendable {
    var name: String
    var instructions: [Instruction]
    /// Whether the engine is expected to refuse it (the kernel must agree).
    var refused: Bool
    var testDescription: String { name }
  }

  /// R0 = lookup(map, key 0) (slots 0 - 5), then `body` on the non-null path.
  static func lookup(_ map: Int, then body: [Instruction]) -> [Instruction] {
    [.store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10), .add(.r2, immediate: -4)]
      + Instruction.loadImmediate64(.r1, UInt64(map), kind: .mapByIndex) + [
        .call(helper: HelperFunction.mapLookupElement.rawValue),
        .jump(.jeq, .r0, immediate: 0, offset: Int16(body.count)),
      ] + body + [.move(.r0, immediate: 2), .exit]
  }

  /// R0 = lookup(map, key 0) (slots 0 - 5), then `body` (from slot 6),
  /// with no null check of its own.
  static func unchecked(_ map: Int, then body: [Instruction]) -> [Instruction] {
    [.store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10), .add(.r2, immediate: -4)]
      + Instruction.loadImmediate64(.r1, UInt64(map), kind: .mapByIndex) + [
        .call(helper: HelperFunction.mapLookupElement.rawValue)
      ] + body + [.move(.r0, immediate: 2), .exit]
  }

  /// Uses of a lookup's result before (or without) a null check: the
  /// verifier's `map_value_or_null`, refused before any map's flags.
  static let uncheckedCases = [
    Case(
      name: "unchecked devmap store",
      instructions: unchecked(ports, then: [.store(.word, immediate: 7, to: .r0, offset: 0)]),
      refused: true),
    Case(
      name: "unchecked devmap_hash load",
      instructions: unchecked(hosts, then: [.load(.word, .r3, from: .r0, offset: 0)]),
      refused: true),
    Case(
      name: "unchecked devmap_hash load through a copy",
      instructions: unchecked(
        hosts, then: [.move(.r6, .r0), .load(.byte, .r2, from: .r6, offset: 1)]),
      refused: true),
    Case(
      name: "unchecked xskmap load",
      instructions: unchecked(sockets, then: [.load(.word, .r3, from: .r0, offset: 0)]),
      refused: true),
    Case(
      name: "unchecked devmap atomic",
      instructions: unchecked(ports, then: [.move(.r3, immediate: 1), atomicAdd]), refused: true),
    Case(
      name: "unchecked devmap arithmetic",
      instructions: unchecked(
        ports, then: [.add(.r0, immediate: 2), .load(.byte, .r3, from: .r0, offset: 0)]),
      refused: true),
    Case(
      name: "unchecked xskmap arithmetic",
      instructions: unchecked(sockets, then: [.add(.r0, immediate: 2)]), refused: true),
    Case(
      name: "unchecked devmap spilled and filled",
      instructions: unchecked(
        ports,
        then: [
          .store(.doubleWord, .r0, to: .r10, offset: -16),
          .load(.doubleWord, .r4, from: .r10, offset: -16),
          .load(.word, .r3, from: .r4, offset: 0),
        ]), refused: true),
    Case(
      name: "devmap checked through a spilled copy",
      instructions: unchecked(
        ports,
        then: [
          .store(.doubleWord, .r0, to: .r10, offset: -16),
          .jump(.jeq, .r0, immediate: 0, offset: 2),
          .load(.doubleWord, .r4, from: .r10, offset: -16), .load(.word, .r3, from: .r4, offset: 0),
        ]), refused: false),
    Case(
      name: "devmap checked through a copy",
      instructions: unchecked(
        ports,
        then: [
          .move(.r6, .r0), .jump(.jeq, .r6, immediate: 0, offset: 1),
          .load(.word, .r3, from: .r0, offset: 0),
        ]), refused: false),
    Case(
      name: "devmap checked by jne",
      instructions: unchecked(
        ports,
        then: [
          .jump(.jne, .r0, immediate: 0, offset: 2), .move(.r0, immediate: 1), .exit,
          .load(.word, .r3, from: .r0, offset: 0),
        ]), refused: false),
    Case(
      name: "devmap checked against a zero register",
      instructions: unchecked(
        ports,
        then: [
          .move(.r5, immediate: 0), .jump(.jeq, .r0, .r5, offset: 1),
          .load(.word, .r3, from: .r0, offset: 0),
        ]), refused: true),
    Case(
      name: "devmap checked with jmp32",
      instructions: unchecked(
        ports,
        then: [
          .jump(.jeq, .r0, immediate: 0, offset: 1, wide: false),
          .load(.word, .r3, from: .r0, offset: 0),
        ]), refused: true),
    // An array's lookup of a constant key in bounds is the value to 6.18's
    // verifier (`can_elide_value_nullness`): its flags speak, or nothing.
    Case(
      name: "array lookup of key 0 unchecked",
      instructions: unchecked(
        values, then: [.store(.doubleWord, immediate: 1, to: .r0, offset: 0)]),
      refused: false),
    Case(
      name: "write-only lookup of key 0 unchecked",
      instructions: unchecked(sink, then: [.load(.word, .r3, from: .r0, offset: 4)]), refused: true),
    Case(
      name: "rodata lookup of key 0 unchecked",
      instructions: unchecked(rodata, then: [.store(.byte, immediate: 1, to: .r0, offset: 1)]),
      refused: true),
  ]

  /// `helper(map, key, value, 0)` with 16 zero bytes on the stack as key and value.
  static func call(_ helper: HelperFunction, on map: Int) -> [Instruction] {
    [
      .store(.doubleWord, immediate: 0, to: .r10, offset: -8),
      .store(.doubleWord, immediate: 0, to: .r10, offset: -16), .move(.r2, .r10),
      .add(.r2, immediate: -16), .move(.r3, .r10), .add(.r3, immediate: -16),
      .move(.r4, immediate: 0),
    ] + Instruction.loadImmediate64(.r1, UInt64(map), kind: .mapByIndex) + [
      .call(helper: helper.rawValue), .move(.r0, immediate: 2), .exit,
    ]
  }

  static func rodataValue(_ register: Register, offset: UInt32 = 0) -> [Instruction] {
    Instruction.loadImmediate64(
      register, UInt64(rodata) | UInt64(offset) << 32, kind: .mapValueByIndex)
  }

  static let atomicAdd = Instruction(
    opcode: Opcode.memory(.stx, .atomic, .word), dst: .r0, src: .r3, offset: 0,
    immediate: AtomicOperation.add.rawValue)

  static let cases: [Case] = {
    var cases = [
      Case(
        name: "devmap store",
        instructions: lookup(ports, then: [.store(.word, immediate: 7, to: .r0, offset: 0)]),
        refused: true),
      Case(
        name: "devmap load",
        instructions: lookup(ports, then: [.load(.word, .r3, from: .r0, offset: 0)]),
        refused: false),
      Case(
        name: "devmap_hash atomic",
        instructions: lookup(hosts, then: [.move(.r3, immediate: 1), atomicAdd]), refused: true),
      Case(
        name: "rodata store",
        instructions: rodataValue(.r1, offset: 8) + [
          .store(.word, immediate: 1, to: .r1, offset: 4), .move(.r0, immediate: 2), .exit,
        ], refused: true),
      Case(
        name: "rodata load",
        instructions: rodataValue(.r1) + [
          .load(.doubleWord, .r0, from: .r1, offset: 8), .arithmetic(.and, .r0, immediate: 3),
          .exit,
        ], refused: false),
      Case(
        name: "rodata store through a lookup",
        instructions: lookup(rodata, then: [.store(.byte, immediate: 1, to: .r0, offset: 15)]),
        refused: true),
      Case(
        name: "write-only load",
        instructions: lookup(sink, then: [.load(.word, .r3, from: .r0, offset: 4)]), refused: true),
      Case(
        name: "write-only store",
        instructions: lookup(sink, then: [.store(.word, immediate: 1, to: .r0, offset: 4)]),
        refused: false),
      Case(
        name: "xskmap store",
        instructions: lookup(sockets, then: [.store(.word, immediate: 1, to: .r0, offset: 0)]),
        refused: true),
      Case(
        name: "xskmap load",
        instructions: lookup(sockets, then: [.load(.word, .r3, from: .r0, offset: 0)]),
        refused: false),
      Case(
        name: "array store",
        instructions: lookup(values, then: [.store(.doubleWord, immediate: 1, to: .r0, offset: 0)]),
        refused: false),
      Case(
        name: "xdp_load_bytes into rodata",
        instructions: rodataValue(.r3, offset: 4) + [
          .move(.r2, immediate: 0), .move(.r4, immediate: 8),
          .call(helper: HelperFunction.xdpLoadBytes.rawValue), .move(.r0, immediate: 2), .exit,
        ], refused: true),
      Case(
        name: "xdp_store_bytes from rodata",
        instructions: rodataValue(.r3) + [
          .move(.r2, immediate: 0), .move(.r4, immediate: 8),
          .call(helper: HelperFunction.xdpStoreBytes.rawValue), .move(.r0, immediate: 2), .exit,
        ], refused: false),
      Case(
        name: "map_update_elem from rodata",
        instructions: [
          .store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10),
          .add(.r2, immediate: -4),
        ]
          + Instruction.loadImmediate64(.r1, UInt64(values), kind: .mapByIndex) + rodataValue(.r3)
          + [
            .move(.r4, immediate: 0), .call(helper: HelperFunction.mapUpdateElement.rawValue),
            .move(.r0, immediate: 2), .exit,
          ], refused: false),
    ]
    for helper in [HelperFunction.mapUpdateElement, .mapDeleteElement] {
      for (map, refused) in [
        (ports, true), (hosts, true), (rodata, true), (sockets, true), (values, false),
      ] {
        cases.append(
          Case(
            name: "\(helper) on \(maps[map].name)", instructions: call(helper, on: map),
            refused: refused))
      }
    }
    for helper in [HelperFunction.mapLookupElement, .mapUpdateElement, .mapDeleteElement] {
      cases.append(
        Case(name: "\(helper) on cpus", instructions: call(helper, on: cpus), refused: true))
    }
    return cases + uncheckedCases
  }()

  @Test(arguments: cases)
  func theEngineRefusesWhatTheKernelRefuses(_ refusalCase: Case) throws {
    let program = Program(
      name: "rdonly", sectionName: "xdp", instructions: refusalCase.instructions)
    var engine: MapAccessRefusal?
    let machine = try Machine(maps: Self.maps)
    do {
      _ = try machine.prepare(program)
    } catch {
      guard case .mapAccess(let refusal) = error else { throw error }
      engine = refusal
    }
    #expect((engine != nil) == refusalCase.refused, "\(engine.map { "\($0)" } ?? "prepared")")
    do {
      _ = try ProgramLoader(maps: Self.maps).load(program)
      #expect(engine == nil, "the kernel loads it; the engine says \(engine.map { "\($0)" } ?? "")")
    } catch {
      let log = try #require(error.verifierLog, "\(error)")
      let engine = try #require(engine, "the kernel refuses it: \(log)")
      #expect(log.contains(engine.reason + "\n"), "kernel: \(log)\nengine: \(engine)")
      if case .rejected(_, let instruction, _, _, _) = error {
        #expect(instruction == engine.index, "kernel: \(log)")
      }
    }
  }
}
