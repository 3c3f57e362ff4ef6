import BPF
import Testing

@testable import Rewriter

@Suite struct StackFrameAnalysisTests {
  @Test func followsSpillsAndFills() throws {
    let frame = StackFrameAnalysis(Fixtures.spillAndFill)
    #expect(frame.state(before: 2)?[.r2] == .frame(-16))
    #expect(frame.state(before: 5)?[.r3] == .frame(-16))
    #expect(frame.state(before: 5)?[.r2] == .scalar(.constant(0)))
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

  @Test func disagreeingPathsMakeARange() throws {
    let frame = StackFrameAnalysis(Fixtures.disagreeingPaths)
    #expect(frame.state(before: 6)?[.r2] == .variableFrame(lower: -16, upper: -8))
    #expect(frame.hazards.isEmpty)
    // Paths with different frame pointers are kept apart: the access is
    // recorded once for each, and together they cover [-16, 0).
    let reach = try #require(frame.reach(of: 6))
    #expect(reach == -16..<0)
    #expect(frame.stackDepth == 16)
  }

  @Test func maskedIndexBoundsTheOffset() throws {
    let frame = StackFrameAnalysis(Fixtures.variableOffset)
    // r5 = word & 8 is 0 or 8: r2 = r10 - 16 + r5 is in [-16, -8].
    guard case .scalar(let index) = frame.state(before: 4)?[.r5] else {
      Issue.record("r5 is not a tracked scalar")
      return
    }
    #expect(index.unsignedMinimum == 0 && index.unsignedMaximum == 8)
    #expect(index.bits == KnownBits(value: 0, mask: 8))
    #expect(frame.state(before: 5)?[.r2] == .variableFrame(lower: -16, upper: -8))
    #expect(frame.hazards.isEmpty)
    #expect(!frame.hasVariableOffset)
    #expect(frame.stackDepth == 16)
  }

  @Test func loopComparisonBoundsTheIndex() throws {
    let frame = StackFrameAnalysis(Fixtures.stackArrayLoop)
    #expect(frame.hazards.isEmpty, "\(frame.hazards)")
    #expect(frame.reach(of: 6) == -40..<(-8))
    #expect(frame.reach(of: 14) == -40..<(-8))
    #expect(frame.stackDepth == 40)
  }

  @Test func unboundedOffsetIsAHazardWithItsRange() {
    let frame = StackFrameAnalysis(Fixtures.unboundedOffset)
    guard case .variableOffset(let index, let lower, let upper) = frame.hazards.first else {
      Issue.record("expected a variable offset hazard, got \(frame.hazards)")
      return
    }
    #expect(index == 4)
    #expect(lower < -FrameValue.offsetLimit && upper > FrameValue.offsetLimit)
    #expect(frame.hasVariableOffset)
    #expect(frame.hazards.first?.description.contains("instruction 4") == true)
    #expect(frame.hazards.first?.description.contains("[-inf, +inf]") == true)
  }

  @Test func pointerPassedToSubprogramIsFollowed() {
    let frame = StackFrameAnalysis(Fixtures.pointerToSubprogram)
    #expect(frame.hazards.isEmpty)
    #expect(frame.reach(of: 5) == -8..<0)
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

  /// A helper's argument below the 512-byte stack is a hazard, as an
  /// access there is; one at the frame's bottom is not.
  @Test func helperArgumentsBelowTheFrameAreHazards() {
    let below = StackFrameAnalysis(Fixtures.argumentBelowTheFrame)
    #expect(below.hazards == [.argumentOutsideFrame(index: 6, register: .r1, offset: -40000)])
    #expect(
      below.hazards.first?.description
        == "instruction 6: the helper's argument r1 points at r10-40000, below the 512-byte stack")
    var instructions = Fixtures.argumentBelowTheFrame.instructions
    instructions[1] = .add(.r1, immediate: -512)
    let bottom = StackFrameAnalysis(
      Program(name: "bottom", sectionName: "xdp", instructions: instructions))
    #expect(bottom.hazards.isEmpty)
    #expect(bottom.stackDepth == 512)
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

extension StackFrameAnalysis {
  /// The bytes every recorded access of instruction `index` may touch.
  func reach(of index: Int) -> Range<Int>? {
    let found = accesses.filter { $0.index == index }
    guard let low = found.map(\.offset).min(),
      let high = found.map({ $0.offset + $0.size }).max()
    else { return nil }
    return low..<high
  }
}
