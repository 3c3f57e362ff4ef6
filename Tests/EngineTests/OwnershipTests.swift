import BPF
import Testing

@testable import Engine

/// A program stays alive while it runs, whoever else lets go of it.
@Suite struct OwnershipTests {
  /// A tail-call target that deletes its own PROG_ARRAY slot (the map held
  /// the only reference) and then keeps running. Before programs were kept
  /// alive for the run, the delete freed the slots the engine was
  /// executing, and the next allocation of the same size (the value of a
  /// hash-map update, filled with `exit` slots) was run as code: the
  /// program returned 0 instead of 7.
  @Test func deletingTheRunningTailCallTargetKeepsItAlive() throws {
    let length = 28
    let valueSize = 16 * (length + 1) - 32
    let programs = MapDefinition(
      name: "jmp", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 1)
    let scratch = MapDefinition(
      name: "scratch", type: .hash, keySize: 4, valueSize: UInt32(valueSize), maxEntries: 1)
    let machine = try Machine(maps: [programs, scratch])
    let exitSlot = Int32(Operation.exit.rawValue)
    var target: [Instruction] =
      Instruction.map(.r1, 0) + [
        .storeWord(0, .r10, -4), .move(.r2, .r10), .add(.r2, immediate: -4),
        .helper(.mapDeleteElement),
        // Fill the value with bytes that read as `exit` slots.
        .move(.r7, .r10), .add(.r7, immediate: Int32(-8 - valueSize)),
        .move(.r8, immediate: Int32(valueSize / 16)),
        .store(.doubleWord, immediate: exitSlot, to: .r7, offset: 0),
        .add(.r7, immediate: 16), .add(.r8, immediate: -1),
        .jump(.jne, .r8, immediate: 0, offset: -4),
      ]
    target +=
      Instruction.map(.r1, 1) + [
        .move(.r2, .r10), .add(.r2, immediate: -4), .move(.r3, .r10),
        .add(.r3, immediate: Int32(-8 - valueSize)), .move(.r4, immediate: 0),
        .helper(.mapUpdateElement),
      ]
    while target.count < length - 2 { target.append(.move(.r0, immediate: 7)) }
    target += [.move(.r0, immediate: 7), .exit]
    #expect(target.count == length)
    weak var released: PreparedProgram?
    do {
      let prepared = try machine.prepare(instructions: target, name: "target")
      released = prepared
      try machine.maps[0].setProgram(prepared, at: 0)
    }
    let caller = try machine.prepare(
      instructions: Instruction.map(.r2, 0) + [
        .move(.r3, immediate: 0), .helper(.tailCall), .move(.r0, immediate: 1), .exit,
      ])
    #expect(released != nil)
    #expect(try machine.run(caller, r1: 0) == 7)
    #expect(machine.maps[0].keys.isEmpty)
    // Once the run is over, nothing holds the deleted program.
    #expect(released == nil)
  }
}
