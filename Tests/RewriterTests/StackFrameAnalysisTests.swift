import BPF
import Testing

@testable import Rewriter

@Suite struct StackFrameAnalysisTests {
  @Test func followsSpillsAndFills() throws {
    let frame = StackFrameAnalysis(Fixtures.spillAndFill)
    #expect(frame.state(before: 2)?[.r2] == .frame(-16))
    #expect(frame.state(before: 5)?[.r3] == .frame(-16))
    #expect(frame.state(before: 5)?[.r2] == .other)
    let throughPointer = try #require(frame.accesses.first { $0.index == 5 })
    #expect(throughPointer.offset == -20)
    #expect(!throughPointer.isDirect)
    #expect(frame.accesses.filter(\.isDirect).map(\.index) == [2, 4])
    #expect(frame.stackDepth == 20)
    #expect(frame.framePointerCopies == [0])
    #expect(frame.hazards.isEmpty)
  }

  @Test func helperArgumentsAreUsesNotHazards() {
    let frame = StackFrameAnalysis(Fixtures.classifier)
    #expect(frame.helperArguments.map(\.offset) == [-4])
    #expect(frame.hazards.isEmpty)
    #expect(frame.stackDepth == 4)
    #expect(frame.mainExits == [7, 22, 24])
    #expect(frame.subprogramExits.isEmpty)
  }

  @Test func disagreeingPathsMakeTheOffsetUnknown() {
    let frame = StackFrameAnalysis(Fixtures.disagreeingPaths)
    #expect(frame.state(before: 6)?[.r2] == .variableFrame)
    #expect(frame.hazards == [.variableOffset(index: 6)])
  }

  @Test func variableOffsetIsAHazard() {
    let frame = StackFrameAnalysis(Fixtures.variableOffset)
    #expect(frame.hazards.contains(.variableOffset(index: 4)))
    #expect(frame.hasVariableOffset)
  }

  @Test func pointerPassedToSubprogramIsAHazard() {
    let frame = StackFrameAnalysis(Fixtures.pointerToSubprogram)
    #expect(frame.hazards == [.passedToSubprogram(index: 3, register: .r1)])
    #expect(frame.mainExits == [4])
    #expect(frame.subprogramExits == [7])
  }

  @Test func subprogramFramesAreNotTheMainFrame() {
    let frame = StackFrameAnalysis(Fixtures.withSubprogram)
    #expect(frame.mainExits == [6, 7])
    #expect(frame.subprogramExits == [11])
    #expect(frame.accesses.allSatisfy { $0.index < Fixtures.withSubprogram.mainLength })
  }

  @Test func framePointerMisuseIsAHazard() {
    let program = Program(
      name: "misuse", sectionName: "xdp",
      instructions: [
        .store(.doubleWord, .r10, to: .r10, offset: -8),
        .move(.r2, .r10), .add(.r2, immediate: -8),
        .store(.doubleWord, .r2, to: .r1, offset: 0),
        .move(.r0, .r2), .exit,
      ])
    let frame = StackFrameAnalysis(program)
    #expect(frame.hazards.contains(.framePointerRead(index: 0)))
    #expect(frame.hazards.contains(.escapes(index: 3, how: .storedOutsideFrame)))
    #expect(frame.hazards.contains(.escapes(index: 5, how: .returned)))
  }

  @Test func accessesOutsideTheFrameAreHazards() {
    let frame = StackFrameAnalysis(Fixtures.deepStack(520))
    #expect(frame.hazards == [.outsideFrame(index: 0, offset: -520, size: 8)])
  }

  @Test func controlFlowGraphHasBlocksAndLoops() {
    let loop: [Instruction] = [
      .move(.r0, immediate: 0), .add(.r0, immediate: 1),
      .jump(.jlt, .r0, immediate: 5, offset: -2), .exit,
    ]
    let graph = ControlFlowGraph(loop)
    #expect(graph.blocks.map(\.range) == [0..<1, 1..<3, 3..<4])
    #expect(graph.blocks[1].successors.sorted() == [1, 2])
    #expect(graph.backEdges() == [ControlFlowEdge(from: 2, to: 1)])
    #expect(graph.reachable().allSatisfy { $0 })
  }
}
