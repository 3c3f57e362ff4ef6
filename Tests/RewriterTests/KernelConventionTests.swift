import BPF
import Testing

@testable import Rewriter

/// The batch form for a kernel with the batch patches: R2 is the end of
/// the records, the loop steps by the kernel's record size, the verdict
/// goes to the kernel's act offset, redirects are kept by the kernel
/// function, and the program returns 0.
@Suite struct KernelConventionTests {
  static let layout = XDPContextLayout(
    data: 0, dataEnd: 4, dataMeta: 8, ingressInterfaceIndex: 12, receiveQueueIndex: 16,
    egressInterfaceIndex: 20, action: 24, redirectTarget: nil, stride: 64)
  static let commit: Int32 = 4242

  static func trampoline(commit: Int32? = commit, bound: BatchBound = .endPointer)
    -> BatchTrampoline
  {
    BatchTrampoline(
      bound: bound, layout: layout, convention: .kernel(commitFunction: commit))
  }

  @Test func loopsOverTheKernelsRecordsUpToTheEndItPasses() throws {
    // The classifier names R6 and R7: the cursor and the end go to R8 and
    // R9; naming all four puts them on the stack.
    for (program, registers) in [
      (Fixtures.classifier, true), (Fixtures.namingCalleeSaved(Fixtures.classifier), false),
    ] {
      let batch = try Self.trampoline().rewrite(program)
      let code = batch.program.instructions
      let slots = batch.layout.slots
      #expect(slots.total == nil)
      let cursor: Register
      if registers {
        #expect(slots.cursorRegister == .r8 && slots.boundRegister == .r9)
        cursor = .r8
        #expect(Array(code[batch.layout.prologue]) == [.move(.r8, .r1), .move(.r9, .r2)])
      } else {
        #expect(slots.cursorRegister == nil && slots.boundRegister == nil)
        cursor = .r1
        let (slot, end) = (try #require(slots.cursor), try #require(slots.end))
        #expect(
          Array(code[batch.layout.prologue]) == [
            .store(.doubleWord, .r1, to: .r10, offset: slot),
            .store(.doubleWord, .r2, to: .r10, offset: end),
          ])
      }
      let epilogue = Array(code[batch.layout.epilogue])
      #expect(epilogue.contains(.store(.word, .r0, to: cursor, offset: 24)))
      #expect(epilogue.contains(.add(cursor, immediate: 64)))
      #expect(epilogue.last?.jumpOperation == .jlt)
      #expect(epilogue.last?.dst == cursor)
      #expect(Array(code[batch.layout.tail]) == [.move(.r0, immediate: 0), .exit])
      #expect(
        !code.contains { $0.isHelperCall && $0.immediate == HelperFunction.commitRedirect.rawValue }
      )
      #expect(batch.summary.addedPerPacket == (registers ? 4 : 6))
    }
  }

  @Test func keepsEachRedirectWithTheKernelFunction() throws {
    let batch = try Self.trampoline().rewrite(Fixtures.redirecting)
    let epilogue = Array(batch.program.instructions[batch.layout.epilogue])
    let call = try #require(epilogue.first { $0.isCall })
    #expect(call.callKind == .kfunc)
    #expect(call.immediate == Self.commit)
    #expect(epilogue.filter(\.isCall).count == 1)
  }

  @Test func refusesWhatTheKernelCannotRun() {
    #expect(throws: RewriteError.boundNotInKernel(.count)) {
      try Self.trampoline(bound: .count).rewrite(Fixtures.classifier)
    }
    #expect(throws: RewriteError.boundNotInKernel(.immediate)) {
      try Self.trampoline(bound: .immediate).rewrite(Fixtures.classifier)
    }
    #expect(throws: RewriteError.noCommitFunction) {
      try Self.trampoline(commit: nil).rewrite(Fixtures.redirecting)
    }
    // Without a redirect the function is not needed.
    #expect(throws: Never.self) { try Self.trampoline(commit: nil).rewrite(Fixtures.classifier) }
  }

  @Test func everyBatchableFixturePassesTheSafetyCheck() throws {
    for program in Fixtures.batchable {
      let batch = try Self.trampoline().rewrite(program)
      #expect(batch.program.instructions.count > program.instructions.count, "\(program.name)")
    }
  }
}
