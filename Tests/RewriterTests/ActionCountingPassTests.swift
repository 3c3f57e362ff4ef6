import BPF
import Testing

@testable import Rewriter

@Suite struct ActionCountingPassTests {
  @Test(arguments: [Fixtures.classifier, Fixtures.withSubprogram, Fixtures.spillAndFill])
  func everyMainExitIsCounted(_ program: Program) throws {
    let counted = try ActionCountingPass(countersMapIndex: 3).apply(to: program)
    let mainExits = (0..<counted.mainLength).filter { counted.instructions[$0].isExit }
    #expect(mainExits == [counted.mainLength - 1])
    let references = counted.mapReferences.filter { $0.map == 3 }
    #expect(references.count == 1)
    let lookup = try #require(references.first).instruction
    let graph = ControlFlowGraph(
      counted.instructions, subprogramStarts: counted.subprograms.map(\.start))
    // Every path from the entry to the main exit passes the counters lookup.
    var seen = Set<Int>()
    var pending = [0]
    while let index = pending.popLast() {
      guard index != lookup, seen.insert(index).inserted else { continue }
      #expect(!counted.instructions[index].isExit || index >= counted.mainLength)
      pending += graph.successors(ofInstruction: index)
    }
    for subprogram in program.subprograms {
      let moved = try #require(counted.subprograms.first { $0.name == subprogram.name })
      #expect(
        Array(counted.instructions[moved.start..<(moved.start + moved.length)])
          == Array(program.instructions[subprogram.start..<(subprogram.start + subprogram.length)]))
    }
  }

  @Test func contextIsSavedBelowTheDeepestUse() throws {
    let program = Fixtures.spillAndFill
    let counted = try ActionCountingPass(countersMapIndex: 0).apply(to: program)
    let save = counted.instructions[0]
    #expect(save.src == .r1 && save.dst == .r10)
    #expect(Int(save.offset) < -StackFrameAnalysis(program).stackDepth)
  }

  @Test func refusesWhatItCannotPlace() {
    #expect(throws: RewriteError.stackTooLarge(used: 504, reserved: 16)) {
      try ActionCountingPass(countersMapIndex: 0).apply(to: Fixtures.deepStack(504))
    }
    #expect(throws: RewriteError.self) {
      try ActionCountingPass(countersMapIndex: 0).apply(to: Fixtures.unboundedOffset)
    }
  }
}
