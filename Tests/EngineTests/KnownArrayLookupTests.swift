import BPF
import Testing

@testable import Engine

/// `map_lookup_elem` on an array whose handle R1 holds on every path
/// (``MapValuePointers/handle(in:at:)``): the inline code leaves out the
/// handle, table and kind checks, and answers as the interpreter does
/// (``InlineHelperTests`` runs every key and a faulting key pointer).
@Suite struct KnownArrayLookupTests {
  /// `cmp r10d, 0xffff0000`: the check that R1 holds a map handle.
  static let handleCheck: [UInt8] = [0x41, 0x81, 0xfa, 0x00, 0x00, 0xff, 0xff]

  static func handleChecks(_ instructions: [Instruction]) throws -> Int {
    let machine = try Machine(
      maps: InlineHelperTests.maps,
      configuration: MachineConfiguration(processorID: 1, processorCount: 2, engine: .jit))
    let bytes = try machine.nativeCode(for: try machine.prepare(instructions: instructions)).bytes
    return bytes.starts(of: handleCheck).count
  }

  @Test func aKnownArraysLookupChecksNoHandle() throws {
    // The array and the per-CPU array: only the keyed lookup's code (for
    // handles that are no array) checks the handle.
    #expect(try Self.handleChecks(InlineHelperTests.lookup(map: 0, key: 1)) == 1)
    #expect(try Self.handleChecks(InlineHelperTests.lookup(map: 1, key: 1)) == 1)
    // A hash map, and a handle that names no map: both lookups check it.
    #expect(try Self.handleChecks(InlineHelperTests.lookup(map: 2, key: 1)) == 2)
    #expect(
      try Self.handleChecks(InlineHelperTests.lookup(map: 0, key: 1, handle: 0x1234)) == 2)
  }

  @Test func aHandleKnownOnOnePathOnlyIsChecked() throws {
    // r1 = the hash map, or the array when R2 (the key's pointer) is not
    // 0, which it never is: the join knows no handle, so the code checks
    // it, and the lookup is the array's.
    let program: [Instruction] =
      [
        .store(.word, immediate: 1, to: .r10, offset: -4), .move(.r2, .r10),
        .add(.r2, immediate: -4),
      ]
      + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
      + [.jump(.jne, .r2, immediate: 0, offset: 2)]
      + Instruction.loadImmediate64(.r1, 2, kind: .mapByIndex)
      + [.helper(.mapLookupElement), .exit]
    #expect(try Self.handleChecks(program) == 2)
    let interpreted = try InlineHelperTests.run(program, .interpreter)
    let compiled = try InlineHelperTests.run(program, .jit)
    #expect(
      compiled.result == interpreted.result && compiled.instructions == interpreted.instructions)
    #expect(
      compiled.result == "R0 = 0x"
        + String(compiled.machine.maps[0].valueAddress(slot: 1, processor: 1), radix: 16))
  }
}
