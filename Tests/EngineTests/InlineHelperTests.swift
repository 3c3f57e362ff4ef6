import BPF
import Testing

@testable import Engine

/// Issue 22: the helpers the JIT emits inline (array and per-CPU array
/// `map_lookup_elem`, `redirect`) give the interpreter's results, with no
/// call into Swift, and every argument the fast path does not cover
/// still gets the engine's answer or error.
@Suite struct InlineHelperTests {
  static let maps = [
    MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 12, maxEntries: 4),
    MapDefinition(name: "stats", type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 3),
    MapDefinition(name: "flows", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4),
  ]

  /// `*(u32 *)(r10 - 4) = key; r0 = lookup(map, r10 - 4)`, with R1 and R2
  /// replaced by `handle` and `keyPointer` when given.
  static func lookup(
    map: Int, key: Int32, handle: UInt64? = nil, keyPointer: Int32? = nil
  ) -> [Instruction] {
    var program: [Instruction] = [
      .store(.word, immediate: key, to: .r10, offset: -4),
      .move(.r2, .r10), .add(.r2, immediate: -4),
    ]
    if let keyPointer { program.append(.move(.r2, immediate: keyPointer)) }
    if let handle {
      program += Instruction.loadImmediate64(.r1, handle)
    } else {
      program += Instruction.loadImmediate64(.r1, UInt64(map), kind: .mapByIndex)
    }
    return program + [.call(helper: HelperFunction.mapLookupElement.rawValue), .exit]
  }

  /// The result or error of `instructions` in `engine`, its instruction
  /// count, and the helper calls the JIT made into Swift.
  static func run(_ instructions: [Instruction], _ engine: EngineKind) throws
    -> (result: String, instructions: Int, callbacks: Int, machine: Machine)
  {
    let machine = try Machine(
      maps: maps,
      configuration: MachineConfiguration(processorID: 1, processorCount: 2, engine: engine))
    let program = try machine.prepare(instructions: instructions)
    let result: String
    do {
      result = "R0 = 0x" + String(try machine.run(program, r1: 0), radix: 16)
    } catch {
      result = "\(error)"
    }
    if engine == .jit { #expect(machine.engineFallback == nil) }
    return (result, machine.lastInstructionCount, machine.jit.swiftCalls, machine)
  }

  @Test func arrayLookupsAreAddressArithmetic() throws {
    for map in [0, 1] {
      for key: Int32 in [0, 1, 2, 3, 4, 7, -1] {
        let program = Self.lookup(map: map, key: key)
        let interpreted = try Self.run(program, .interpreter)
        let compiled = try Self.run(program, .jit)
        #expect(compiled.result == interpreted.result, "map \(map) key \(key)")
        #expect(compiled.instructions == interpreted.instructions)
        #expect(compiled.callbacks == 0, "map \(map) key \(key): inline, no call into Swift")
        let definition = Self.maps[map]
        let expected: UInt64 =
          UInt32(bitPattern: key) < definition.maxEntries
          ? compiled.machine.maps[map].valueAddress(slot: Int(key), processor: 1) : 0
        #expect(compiled.result == "R0 = 0x" + String(expected, radix: 16), "map \(map) key \(key)")
      }
    }
    // The per-CPU value is the machine's processor's: the second copy.
    let compiled = try Self.run(Self.lookup(map: 1, key: 2), .jit)
    let map = compiled.machine.maps[1]
    #expect(
      compiled.result
        == "R0 = 0x" + String(map.valueAddress(slot: 2, processor: 0) + 8, radix: 16))
  }

  /// A hash map, a handle that is no map, a handle past the table and a
  /// key pointer outside every region: the interpreter's answer or error,
  /// at the same instruction.
  @Test func argumentsTheFastPathDoesNotCoverGetTheEnginesAnswer() throws {
    let cases: [(String, [Instruction], String)] = [
      ("hash map", Self.lookup(map: 2, key: 1), "R0 = 0x0"),
      (
        "no map", Self.lookup(map: 0, key: 1, handle: 0x1234),
        "instruction 5: bpf_map_lookup_elem#1: R1 (0x1234) is not a map"
      ),
      (
        "past the table", Self.lookup(map: 0, key: 1, handle: 0xffff_0000_0000_0007),
        "instruction 5: bpf_map_lookup_elem#1: R1 (0xffff000000000007) is not a map"
      ),
      (
        "key outside", Self.lookup(map: 0, key: 1, keyPointer: 8),
        "instruction 6: read of 4 bytes at 0x8 is out of bounds"
      ),
    ]
    for (name, program, expected) in cases {
      let interpreted = try Self.run(program, .interpreter)
      let compiled = try Self.run(program, .jit)
      #expect(compiled.result == interpreted.result, "\(name)")
      #expect(compiled.instructions == interpreted.instructions, "\(name)")
      #expect(interpreted.result == expected, "\(name)")
    }
  }

  /// `redirect(ifindex, flags)`: the pending target and R0 as the
  /// interpreter leaves them; flags other than 0 return 0 and set nothing.
  @Test func redirectRunsInline() throws {
    for (ifindex, flags, verdict) in [(7, 0, 4), (3, 1, 0)] as [(Int32, Int32, Int)] {
      let program: [Instruction] = [
        .move(.r1, immediate: ifindex), .move(.r2, immediate: flags),
        .call(helper: HelperFunction.redirect.rawValue), .exit,
      ]
      let interpreted = try Self.run(program, .interpreter)
      let compiled = try Self.run(program, .jit)
      #expect(compiled.result == interpreted.result)
      #expect(compiled.result == "R0 = 0x\(verdict)")
      #expect(compiled.callbacks == 0)
      #expect(compiled.machine.pendingRedirect == interpreted.machine.pendingRedirect)
      #expect(
        compiled.machine.pendingRedirect
          == (flags == 0 ? .interface(UInt32(ifindex)) : nil))
    }
  }
}

/// Issue 22: atomics on an aligned address are one locked instruction in
/// the JIT (before, each called into Swift), with the interpreter's memory
/// and registers; a misaligned one still runs in the engine's code.
@Suite struct InlineAtomicTests {
  /// At r10 - 16 (aligned) or r10 - 14: the value 0x0f0f_0f0f_0f0f_0f0f;
  /// R3 = 0x1_0000_0003 is the operand; R0 = the memory afterwards, R0 +=
  /// R3 (a fetch's old value lands in R3).
  static func program(_ operation: AtomicOperation, _ size: AccessSize, offset: Int16)
    -> [Instruction]
  {
    Instruction.loadImmediate64(.r2, 0x0f0f_0f0f_0f0f_0f0f)
      + Instruction.loadImmediate64(.r3, 0x1_0000_0003) + [
        .store(.doubleWord, .r2, to: .r10, offset: -16),
        .store(.doubleWord, .r2, to: .r10, offset: -8),
        Instruction(
          opcode: Opcode.memory(.stx, .atomic, size), dst: .r10, src: .r3, offset: offset,
          immediate: operation.rawValue),
        .load(.doubleWord, .r0, from: .r10, offset: offset),
        .arithmetic(.add, .r0, .r3),
        .exit,
      ]
  }

  @Test func lockedInstructionsGiveTheEnginesResults() throws {
    let operations: [AtomicOperation] = [.add, .or, .and, .xor, .fetchAdd, .exchange]
    for operation in operations {
      for size in [AccessSize.word, .doubleWord] {
        for offset: Int16 in [-16, -14] {
          let program = Self.program(operation, size, offset: offset)
          var results: [EngineKind: String] = [:]
          var calls = 0
          for engine in EngineKind.allCases {
            let machine = try Machine(configuration: MachineConfiguration(engine: engine))
            let prepared = try machine.prepare(instructions: program)
            results[engine] = "R0 = 0x" + String(try machine.run(prepared, r1: 0), radix: 16)
            if engine == .jit {
              #expect(machine.engineFallback == nil)
              calls = machine.jit.swiftCalls
            }
          }
          let name = "\(operation) \(size) at \(offset)"
          #expect(results[.jit] == results[.interpreter], "\(name)")
          #expect(calls == (offset == -16 ? 0 : 1), "\(name)")
        }
      }
    }
  }
}
