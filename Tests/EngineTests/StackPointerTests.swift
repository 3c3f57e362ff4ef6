import BPF
import Testing

@testable import Engine

/// Issue 22: the JIT leaves unchecked a stack access through a register
/// that holds R10 plus a constant on every path (``StackPointers``), as the
/// kernel's verifier tracks `PTR_TO_STACK`; an access it cannot prove stays
/// checked, and both engines stop at the same instruction with the same
/// error.
@Suite struct StackPointerTests {
  /// The JIT's code size for `instructions`.
  static func codeSize(_ instructions: [Instruction]) throws -> Int {
    let machine = try Machine(configuration: MachineConfiguration(engine: .jit))
    let program = try machine.prepare(instructions: instructions)
    return try machine.nativeCode(for: program).bytes.count
  }

  @Test func aCopyOfR10IsAsCheapAsR10() throws {
    // r2 = r10; r2 += -16; *(u64 *)(r2 + 8) = 7; r0 = *(u64 *)(r10 - 8)
    let copy: [Instruction] = [
      .move(.r2, .r10), .add(.r2, immediate: -16),
      .store(.doubleWord, immediate: 7, to: .r2, offset: 8),
      .load(.doubleWord, .r0, from: .r10, offset: -8), .exit,
    ]
    var direct = copy
    direct[2] = .store(.doubleWord, immediate: 7, to: .r10, offset: -8)
    // Without the tracking the copy's store carries the address-space
    // check (about 40 bytes more code).
    #expect(try Self.codeSize(copy) == Self.codeSize(direct))
    try JITTests.expectAlike(copy, outcome: "R0 = 7")
  }

  @Test func offsetsThatDifferByPathStayChecked() throws {
    // r1 is 0, so the jump is taken and r2 stays r10: the store at r2 + 8
    // lies past the frame. On the other path it would be inside it.
    let program: [Instruction] = [
      .move(.r2, .r10), .jump(.jeq, .r1, immediate: 0, offset: 1), .add(.r2, immediate: -16),
      .store(.doubleWord, immediate: 1, to: .r2, offset: 8), .move(.r0, immediate: 0), .exit,
    ]
    let (result, _) = try JITTests.outcome(program, engine: .interpreter)
    #expect(result.hasPrefix("instruction 3: write of 8 bytes at"))
    try JITTests.expectAlike(program, outcome: result)
    var direct = program
    direct[3] = .store(.doubleWord, immediate: 1, to: .r10, offset: -8)
    #expect(try Self.codeSize(program) > Self.codeSize(direct))
  }

  @Test func aPointerWalkingOffTheFrameInALoopIsStopped() throws {
    // r2 -= 8 per iteration, 70 iterations: the 65th store leaves the frame.
    let program: [Instruction] = [
      .move(.r2, .r10), .move(.r3, immediate: 70), .add(.r2, immediate: -8),
      .store(.doubleWord, immediate: 1, to: .r2, offset: 0), .add(.r3, immediate: -1),
      .jump(.jne, .r3, immediate: 0, offset: -4), .move(.r0, immediate: 0), .exit,
    ]
    let (result, _) = try JITTests.outcome(program, engine: .interpreter)
    #expect(result.hasPrefix("instruction 3: write of 8 bytes at"))
    try JITTests.expectAlike(program, outcome: result)
  }

  @Test func calleeSavedCopiesPointIntoTheCallersFrameAfterACall() throws {
    // r6 = r10 - 8; call a subprogram that fills its own frame; store
    // through r6 (proven: the return restores the caller's frame pointer),
    // read it back through r10. A pointer handed to the callee in R1 is
    // checked there.
    let program: [Instruction] = [
      .move(.r6, .r10), .add(.r6, immediate: -8), .move(.r1, .r6), .call(local: 5),
      .store(.doubleWord, immediate: 9, to: .r6, offset: 0),
      .load(.doubleWord, .r0, from: .r10, offset: -8),
      .load(.doubleWord, .r3, from: .r10, offset: -16), .arithmetic(.add, .r0, .r3), .exit,
      // subprogram: its own frame, then the caller's slot through R1.
      .store(.doubleWord, immediate: 5, to: .r10, offset: -8),
      .store(.doubleWord, immediate: 100, to: .r1, offset: -8), .move(.r0, immediate: 0), .exit,
    ]
    try JITTests.expectAlike(program, outcome: "R0 = 109")
  }
}
