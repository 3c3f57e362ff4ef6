import BPF
import Testing

@testable import Rewriter

@Suite struct InstructionBufferTests {
  /// 0: if r1 == 0 goto 3; 1: r0 = 1; 2: exit; 3: r0 = 2; 4: exit.
  let forward: [Instruction] = [
    .jump(.jeq, .r1, immediate: 0, offset: 2), .move(.r0, immediate: 1), .exit,
    .move(.r0, immediate: 2), .exit,
  ]
  /// 0: r0 = 0; 1: r0 += 1; 2: if r0 < 5 goto 1; 3: exit.
  let backward: [Instruction] = [
    .move(.r0, immediate: 0), .add(.r0, immediate: 1), .jump(.jlt, .r0, immediate: 5, offset: -2),
    .exit,
  ]
  let filler: [Instruction] = [.move(.r2, immediate: 7), .move(.r3, immediate: 8)]

  /// The original index each reference in `buffer` points at.
  func originalTargets(_ buffer: InstructionBuffer) -> [Int: Int?] {
    var result: [Int: Int?] = [:]
    for (index, instruction) in buffer.instructions.enumerated() {
      guard let origin = buffer.origins[index], let target = instruction.referenceTarget(at: index)
      else { continue }
      result[origin] = buffer.origins[target]
    }
    return result
  }

  @Test(arguments: [0, 1, 2, 3, 4, 5])
  func forwardJumpKeepsItsTarget(insertAt position: Int) throws {
    var buffer = try InstructionBuffer(forward)
    try buffer.insert(filler, at: position, landing: .onOriginal)
    #expect(originalTargets(buffer) == [0: 3])
    let jump = try #require(buffer.location(ofOriginal: 0))
    let expectedDistance = (1...3).contains(position) ? 2 + filler.count : 2
    #expect(Int(buffer.instructions[jump].offset) == expectedDistance)
  }

  @Test(arguments: [0, 1, 2, 3, 4])
  func backwardJumpKeepsItsTarget(insertAt position: Int) throws {
    var buffer = try InstructionBuffer(backward)
    try buffer.insert(filler, at: position, landing: .onOriginal)
    #expect(originalTargets(buffer) == [2: 1])
  }

  @Test func landingOnInsertedCode() throws {
    var buffer = try InstructionBuffer(forward)
    try buffer.insert(filler, at: 3, landing: .onInserted)
    let jump = try #require(buffer.location(ofOriginal: 0))
    #expect(buffer.instructions[jump].referenceTarget(at: jump) == 3)
    #expect(buffer.origins[3] == nil)
  }

  @Test func backwardJumpIntoInsertedCode() throws {
    var buffer = try InstructionBuffer(backward)
    try buffer.insert(filler, at: 1, landing: .onInserted)
    let jump = try #require(buffer.location(ofOriginal: 2))
    #expect(buffer.instructions[jump].referenceTarget(at: jump) == 1)
    #expect(buffer.location(ofOriginal: 1) == 1 + filler.count)
  }

  @Test func longJumpCallAndFunctionAddressAreFixed() throws {
    let program: [Instruction] =
      [.longJump(distance: 1), .move(.r0, immediate: 0), .call(local: 4)]
      + Instruction.loadImmediate64(.r2, UInt64(UInt32(bitPattern: 2)), kind: .codeAddress)
      + [.exit, .move(.r0, immediate: 1), .exit]
    // 0 gotol -> 2; 2 call -> 7; 3-4 ld_imm64 func -> 3+2+1 = 6
    var buffer = try InstructionBuffer(program)
    #expect(originalTargets(buffer) == [0: 2, 2: 7, 3: 6])
    try buffer.insert(filler, at: 1, landing: .onOriginal)
    try buffer.insert(filler, at: buffer.location(ofOriginal: 6)!, landing: .onOriginal)
    #expect(originalTargets(buffer) == [0: 2, 2: 7, 3: 6])
    #expect(buffer.instructions[0].immediate == Int32(1 + filler.count))
  }

  @Test func wideLoadIsNeverSplit() throws {
    let program = Instruction.loadImmediate64(.r1, 0x1_0000_0002) + [.exit]
    var buffer = try InstructionBuffer(program)
    #expect(throws: PatchError.splitsWideLoad(index: 1)) { try buffer.insert(filler, at: 1) }
    #expect(throws: PatchError.splitsWideLoad(index: 1)) { try buffer.replace(at: 1, with: filler) }
    #expect(throws: PatchError.splitsWideLoad(index: 1)) { try buffer.remove(at: 1) }
    #expect(buffer.instructions == program)
    try buffer.replace(at: 0, with: [.move(.r1, immediate: 2)])
    #expect(buffer.instructions == [.move(.r1, immediate: 2), .exit])
  }

  @Test func jumpIntoWideLoadIsRejected() {
    let program =
      [.jump(offset: 1)] + Instruction.loadImmediate64(.r1, 5) + [Instruction.exit]
    #expect(throws: PatchError.targetInsideWideLoad(index: 0, target: 2)) {
      try InstructionBuffer(program)
    }
  }

  @Test func removedTargetLandsOnTheNextInstruction() throws {
    var buffer = try InstructionBuffer(forward)
    try buffer.remove(at: 3)
    #expect(buffer.count == forward.count - 1)
    #expect(buffer.instructions[0].referenceTarget(at: 0) == 3)
    #expect(buffer.instructions[3] == .exit)
    #expect(buffer.location(ofOriginal: 3) == nil)
  }

  @Test func replacedInstructionKeepsItsOrigin() throws {
    var buffer = try InstructionBuffer(forward)
    try buffer.replace(at: 3, with: filler)
    #expect(buffer.location(ofOriginal: 3) == 3)
    #expect(buffer.instructions[0].referenceTarget(at: 0) == 3)
    #expect(buffer.location(ofOriginal: 4) == 3 + filler.count)
  }

  @Test func overflowNamesTheJumpAndLeavesTheBufferUnchanged() throws {
    let span = Int(Int16.max) - 1
    let program: [Instruction] =
      [.jump(.jeq, .r1, immediate: 0, offset: Int16(span))]
      + Array(repeating: .move(.r0, immediate: 0), count: span) + [.exit]
    var buffer = try InstructionBuffer(program)
    #expect(throws: PatchError.distanceOverflow(index: 0, originalIndex: 0, distance: span + 2)) {
      try buffer.insert(filler, at: 5)
    }
    #expect(buffer.instructions == program)
    try buffer.insert([.move(.r0, immediate: 1)], at: 5)
    #expect(Int(buffer.instructions[0].offset) == Int(Int16.max))
  }

  @Test func retargetAimsAJump() throws {
    var buffer = try InstructionBuffer(forward)
    try buffer.retarget(at: 0, to: 1)
    #expect(buffer.instructions[0].offset == 0)
    #expect(throws: PatchError.notAReference(index: 1)) { try buffer.retarget(at: 1, to: 2) }
    #expect(throws: PatchError.targetOutOfRange(index: 0, target: 9)) {
      try buffer.retarget(at: 0, to: 9)
    }
  }

  @Test func patchWithBrokenWideLoadIsRejected() throws {
    var buffer = try InstructionBuffer(forward)
    let half = Instruction.loadImmediate64(.r1, 1)[0]
    #expect(throws: PatchError.malformedWideLoad(index: 2)) { try buffer.insert([half], at: 2) }
  }
}
