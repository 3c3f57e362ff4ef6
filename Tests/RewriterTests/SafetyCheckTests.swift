import BPF
import Testing

@testable import Rewriter

@Suite struct SafetyCheckTests {
  func violations(_ instructions: [Instruction], check: SafetyCheck = SafetyCheck())
    -> [SafetyViolation]
  {
    check.violations(in: Program(name: "t", sectionName: "xdp", instructions: instructions))
  }

  @Test func acceptsTheFixtures() {
    for program in Fixtures.batchable + [Fixtures.pointerToSubprogram] {
      #expect(SafetyCheck().violations(in: program).isEmpty, "\(program.name)")
    }
  }

  @Test func catchesUnreachableCode() {
    let found = violations([.move(.r0, immediate: 1), .exit, .move(.r0, immediate: 2), .exit])
    #expect(found == [.unreachable(index: 2)])
  }

  @Test func catchesAJumpIntoTheMiddleOfAWideLoad() {
    let found = violations(
      [.jump(offset: 1)] + Instruction.loadImmediate64(.r0, 1) + [.exit])
    #expect(found == [.targetInsideWideLoad(index: 0, target: 2)])
  }

  @Test func catchesWritesToTheFramePointer() {
    let found = violations([.move(.r10, immediate: 0), .move(.r0, immediate: 1), .exit])
    #expect(found.contains(.framePointerWritten(index: 0)))
  }

  @Test func catchesStackAccessesOutsideTheFrame() {
    #expect(
      violations([
        .store(.doubleWord, immediate: 0, to: .r10, offset: -516), .move(.r0, .r1), .exit,
      ])
        == [.stackAccessOutsideFrame(index: 0, offset: -516, size: 8)])
    #expect(
      violations([.store(.word, immediate: 0, to: .r10, offset: -2), .move(.r0, .r1), .exit])
        == [.stackAccessOutsideFrame(index: 0, offset: -2, size: 4)])
  }

  @Test func catchesRegistersUsedBeforeDefinition() {
    let found = violations([
      .load(.word, .r2, from: .r1, offset: 0),
      .jump(.jeq, .r2, immediate: 0, offset: 1),
      .move(.r3, immediate: 1),
      .move(.r0, .r3),
      .exit,
    ])
    #expect(found == [.undefinedRegister(index: 3, register: .r3)])
    #expect(
      violations([.call(helper: 7), .move(.r0, .r1), .exit])
        == [.undefinedRegister(index: 1, register: .r1)])
  }

  @Test func catchesNewBackEdges() {
    let loop: [Instruction] = [
      .move(.r0, immediate: 0), .add(.r0, immediate: 1),
      .jump(.jlt, .r0, immediate: 5, offset: -2), .exit,
    ]
    #expect(violations(loop) == [.unexpectedBackEdge(ControlFlowEdge(from: 2, to: 1))])
    #expect(violations(loop, check: SafetyCheck(allowedBackEdges: [.init(from: 2, to: 1)])).isEmpty)
  }

  @Test func catchesFallingOffTheEnd() {
    #expect(violations([.move(.r0, immediate: 1)]) == [.fallsOffEnd(index: 0)])
  }
}
