import BPF
import Testing

@testable import Rewriter

struct Variant: CustomTestStringConvertible, Sendable {
  var strategy: BatchStrategy
  var bound: BatchBound
  var testDescription: String { "\(strategy.rawValue)/\(bound.rawValue)" }
  static let all = BatchStrategy.allCases.flatMap { s in
    BatchBound.allCases.map { Variant(strategy: s, bound: $0) }
  }
}

@Suite struct BatchTrampolineTests {
  func rewrite(_ program: Program, _ variant: Variant, layout: XDPContextLayout = .engine) throws
    -> BatchProgram
  {
    try BatchTrampoline(strategy: variant.strategy, bound: variant.bound, layout: layout)
      .rewrite(program)
  }

  @Test(arguments: Variant.all)
  func everyMainExitReachesTheEpilogue(_ variant: Variant) throws {
    for program in Fixtures.batchable {
      let batch = try rewrite(program, variant)
      let result = batch.program
      let epilogueStart = batch.layout.epilogue.lowerBound
      let exitsInMain = (0..<result.mainLength).filter { result.instructions[$0].isExit }
      #expect(exitsInMain == [batch.layout.tail.upperBound - 1], "\(program.name)")
      for exit in StackFrameAnalysis(program).mainExits {
        guard let moved = batch.originalLocations[exit] else {
          // Only a trailing run of exits right before the epilogue is removed.
          #expect((exit..<program.mainLength).allSatisfy { program.instructions[$0].isExit })
          continue
        }
        #expect(result.instructions[moved].referenceTarget(at: moved) == epilogueStart)
      }
      let backEdge = batch.layout.epilogue.upperBound - 1
      // The loop starts at the per-record head (the padding skip), which
      // falls into the program's first instruction.
      #expect(
        result.instructions[backEdge].referenceTarget(at: backEdge) == batch.layout.head.lowerBound)
      #expect(batch.layout.prologue.upperBound == batch.layout.head.lowerBound)
      #expect(batch.layout.head.upperBound == batch.originalLocations[0])
    }
  }

  @Test(arguments: Variant.all)
  func subprogramsAreUntouched(_ variant: Variant) throws {
    let program = Fixtures.withSubprogram
    let batch = try rewrite(program, variant)
    let old = program.subprograms[0]
    let new = batch.program.subprograms[0]
    #expect(new.start == batch.program.mainLength)
    #expect(
      Array(batch.program.instructions[new.start..<(new.start + new.length)])
        == Array(program.instructions[old.start..<(old.start + old.length)]))
    let call = try #require(batch.originalLocations[2])
    #expect(batch.program.instructions[call].referenceTarget(at: call) == new.start)
  }

  @Test(arguments: Variant.all)
  func stackMovesOnlyUnderShift(_ variant: Variant) throws {
    for program in Fixtures.batchable {
      let batch = try rewrite(program, variant)
      let onStack = batch.layout.slots.onStack.count * 8
      let reserved = variant.strategy == .shift ? onStack : 0
      let before = StackFrameAnalysis(program)
      for access in before.accesses where access.isDirect {
        let moved = try #require(batch.originalLocations[access.index])
        #expect(Int(batch.program.instructions[moved].offset) == access.offset - reserved)
      }
      let after = StackFrameAnalysis(batch.program, entryRegisters: [.r1, .r2])
      for access in before.accesses {
        let moved = try #require(batch.originalLocations[access.index])
        #expect(
          after.accesses.contains { $0.index == moved && $0.offset == access.offset - reserved })
      }
      for argument in before.helperArguments {
        let moved = try #require(batch.originalLocations[argument.index])
        #expect(
          after.helperArguments.contains {
            $0.index == moved && $0.offset == argument.offset - reserved
          })
      }
      let slots = batch.layout.slots
      let lowest = Int(slots.onStack.min() ?? 0)
      if variant.strategy == .reserve {
        #expect(slots.onStack.allSatisfy { Int($0) < -before.stackDepth })
      } else {
        #expect(lowest >= -reserved)
      }
      #expect(batch.summary.stackBytes <= 512)
      #expect(batch.summary.stackBytes >= before.stackDepth + onStack - 7)
    }
  }

  @Test(arguments: Variant.all)
  func countsAddUp(_ variant: Variant) throws {
    for program in Fixtures.batchable {
      let batch = try rewrite(program, variant)
      let summary = batch.summary
      let removed = batch.originalLocations.filter { $0 == nil }.count
      let perRecord = batch.layout.head.count + batch.layout.epilogue.count
      let adjustments = summary.addedPerPacket - perRecord
      #expect(adjustments >= 0)
      #expect(summary.instructionsBefore == program.instructions.count)
      #expect(
        summary.instructionsAfter
          == summary.instructionsBefore + summary.addedOnce + perRecord + adjustments - removed)
      #expect(summary.addedOnce == batch.layout.prologue.count + batch.layout.tail.count)
    }
  }

  /// The README's "Per-packet overhead" table, pinned: instructions added
  /// per packet for a program without a redirect helper and for one with
  /// it, and instructions added once per batch, for every variant: with
  /// the cursor and the bound in callee-saved registers the programs leave
  /// free, with only the cursor there, and with both on the stack (a
  /// program naming R6 - R9).
  @Test(arguments: Variant.all)
  func overheadMatchesTheREADMETable(_ variant: Variant) throws {
    typealias Row = (perPacket: Int, withRedirect: Int, once: Int)
    let registers: [BatchBound: Row] = [
      .immediate: (7, 10, 4), .count: (5, 8, 6), .endPointer: (4, 7, 8),
    ]
    let cursorOnly: [BatchBound: Row] = [
      .immediate: (9, 12, 4), .count: (7, 10, 6), .endPointer: (5, 8, 8),
    ]
    let stack: [BatchBound: Row] = [
      .immediate: (10, 13, 4), .count: (8, 11, 6), .endPointer: (6, 9, 8),
    ]
    let forms: [(table: [BatchBound: Row], named: [Register])] = [
      (registers, []), (cursorOnly, [.r6, .r7, .r8]), (stack, [.r6, .r7, .r8, .r9]),
    ]
    for (table, named) in forms {
      let expected = try #require(table[variant.bound])
      let plain = try rewrite(Fixtures.naming(named, Fixtures.classifier), variant)
      let redirecting = try rewrite(Fixtures.naming(named, Fixtures.redirecting), variant)
      let thenPassing = try rewrite(
        Fixtures.naming(named, Fixtures.redirectingThenPassing), variant)
      #expect(plain.summary.addedPerPacket == expected.perPacket, "\(named)")
      #expect(redirecting.summary.addedPerPacket == expected.withRedirect, "\(named)")
      #expect(thenPassing.summary.addedPerPacket == expected.withRedirect - 1, "\(named)")
      #expect(plain.summary.addedOnce == expected.once, "\(named)")
      // The loop's registers are ones the program never names.
      let slots = plain.layout.slots
      let held = [slots.cursorRegister, slots.boundRegister].compactMap { $0 }
      #expect(held.count == 4 - max(named.count, 2), "\(named)")
      #expect(held.allSatisfy { !named.contains($0) && $0 != .r6 && $0 != .r7 }, "\(named)")
    }
  }

  @Test(arguments: Variant.all)
  func epilogueUsesTheLayout(_ variant: Variant) throws {
    var layout = XDPContextLayout.engine
    layout.action = 40
    layout.stride = 48
    for program in [Fixtures.classifier, Fixtures.namingCalleeSaved(Fixtures.classifier)] {
      let batch = try rewrite(program, variant, layout: layout)
      let cursor = batch.layout.slots.cursorRegister ?? .r1
      let epilogue = batch.program.instructions[batch.layout.epilogue]
      #expect(epilogue.contains(.store(.word, .r0, to: cursor, offset: 40)))
      #expect(epilogue.contains(.add(cursor, immediate: 48)))
      #expect(
        !epilogue.contains { $0.offset == XDPContextLayout.engine.action && $0.dst == cursor })
    }
  }

  @Test(arguments: Variant.all)
  func redirectIsCommittedPerRecord(_ variant: Variant) throws {
    for named in [[], [Register.r6, .r7, .r8, .r9]] {
      let batch = try rewrite(Fixtures.naming(named, Fixtures.redirecting), variant)
      let epilogue = Array(batch.program.instructions[batch.layout.epilogue])
      let commit = try #require(
        epilogue.firstIndex(of: .call(helper: HelperFunction.commitRedirect.rawValue)))
      let verdict = try #require(
        epilogue.firstIndex { $0.instructionClass == .stx && $0.src == .r0 })
      #expect(verdict < commit)
      let test: Int
      if let cursor = batch.layout.slots.cursorRegister {
        // R1 = the record from the cursor's register, which the call keeps.
        #expect(named.isEmpty)
        #expect(epilogue[commit - 1] == .move(.r1, cursor))
        #expect(epilogue[commit + 1] == .add(cursor, immediate: 32))
        test = commit - 2
      } else {
        #expect(named.count == 4)
        let reload = Instruction.load(
          .doubleWord, .r1, from: .r10, offset: try #require(batch.layout.slots.cursor))
        #expect(epilogue[commit + 1] == reload)
        test = commit - 1
      }
      // `return bpf_redirect(…)`: only an XDP_REDIRECT verdict can leave a
      // target pending, so other verdicts skip the commit (and the reload).
      #expect(epilogue[test] == .jump(.jne, .r0, immediate: 4, offset: 2))
    }
    // A target set before another verdict is still committed every time.
    let other = try rewrite(Fixtures.redirectingThenPassing, variant)
    let thenPassing = Array(other.program.instructions[other.layout.epilogue])
    let alwaysCommits = try #require(
      thenPassing.firstIndex(of: .call(helper: HelperFunction.commitRedirect.rawValue)))
    #expect(!thenPassing[..<alwaysCommits].contains { $0.isBranch })
    let plain = try rewrite(Fixtures.classifier, variant)
    #expect(
      !plain.program.instructions.contains(.call(helper: HelperFunction.commitRedirect.rawValue)))
  }

  @Test func refusesTailCalls() {
    #expect(throws: RewriteError.tailCall(index: 5)) {
      try BatchTrampoline().rewrite(Fixtures.tailCalling)
    }
  }

  @Test(arguments: Variant.all)
  func refusesStacksThatNoLongerFit(_ variant: Variant) throws {
    // The loop's slots: the total (count, end-pointer) with the cursor and
    // the bound in registers; all of them when the program names R6 - R9.
    let slots: [BatchBound: (registers: Int, stack: Int)] = [
      .immediate: (0, 2), .count: (1, 3), .endPointer: (1, 3),
    ]
    for named in [[], [Register.r6, .r7, .r8, .r9]] {
      let expected = try #require(slots[variant.bound])
      let reserved = 8 * (named.isEmpty ? expected.registers : expected.stack)
      let fits = try rewrite(
        Fixtures.naming(named, Fixtures.deepStack(Int16(512 - reserved))), variant)
      #expect(fits.layout.slots.onStack.count * 8 == reserved)
      guard reserved > 0 else { continue }  // 520 bytes is no stack the analysis accepts
      #expect(throws: RewriteError.stackTooLarge(used: 512 - reserved + 8, reserved: reserved)) {
        try rewrite(Fixtures.naming(named, Fixtures.deepStack(Int16(512 - reserved + 8))), variant)
      }
    }
  }

  /// Refused with the argument named, in every strategy and bound, where
  /// the loop's slots were once placed under the 40000-byte "frame" and
  /// their offset trapped.
  @Test(arguments: Variant.all)
  func refusesHelperArgumentsBelowTheFrame(_ variant: Variant) {
    #expect(
      throws: RewriteError.unprovableStack(
        .argumentOutsideFrame(index: 6, register: .r1, offset: -40000))
    ) {
      try rewrite(Fixtures.argumentBelowTheFrame, variant)
    }
  }

  @Test func refusesUnboundedVariableOffsets() {
    for strategy in BatchStrategy.allCases {
      #expect(throws: RewriteError.self) {
        try BatchTrampoline(strategy: strategy).rewrite(Fixtures.unboundedOffset)
      }
      do {
        _ = try BatchTrampoline(strategy: strategy).rewrite(Fixtures.unboundedOffset)
      } catch {
        guard case .unprovableStack(.variableOffset(let index, _, _)) = error else {
          Issue.record("\(strategy): \(error)")
          continue
        }
        #expect(index == 4)
      }
    }
  }

  /// Bounded variable offsets: `reserve` moves nothing and puts its slots
  /// below the deepest byte any offset reaches; `shift` moves the base.
  @Test(arguments: Variant.all)
  func acceptsBoundedVariableOffsets(_ variant: Variant) throws {
    for program in [Fixtures.variableOffset, Fixtures.stackArrayLoop, Fixtures.disagreeingPaths] {
      let batch = try rewrite(program, variant)
      let depth = StackFrameAnalysis(program).alignedStackDepth
      let slots = batch.layout.slots
      // The highest slot in use (none under `immediate` with the cursor
      // and the counter in registers).
      let top = slots.onStack.max().map(Int.init)
      if variant.strategy == .reserve {
        #expect(top == (slots.onStack.isEmpty ? nil : -depth - 8), "\(program.name)")
      } else {
        #expect(top == (slots.onStack.isEmpty ? nil : -8), "\(program.name)")
        let moved = StackFrameAnalysis(batch.program, entryRegisters: [.r1, .r2])
        let reserved = 8 * slots.onStack.count
        // The original frame moved down by the reserved slots.
        #expect(
          moved.stackDepth == StackFrameAnalysis(program).stackDepth + reserved, "\(program.name)")
        #expect(moved.hazards.isEmpty, "\(program.name): \(moved.hazards)")
      }
    }
  }

  @Test func rewritesPointersPassedToSubprograms() throws {
    let batch = try BatchTrampoline().rewrite(Fixtures.pointerToSubprogram)
    // The cursor and the end in registers, the total's slot below the frame.
    #expect(batch.summary.stackBytes == 8 + 8)
    let stack = try BatchTrampoline().rewrite(
      Fixtures.namingCalleeSaved(Fixtures.pointerToSubprogram))
    #expect(stack.summary.stackBytes == 8 + 24)
  }

  @Test func refusesBadParameters() {
    #expect(throws: RewriteError.invalidBatchSize(0)) {
      try BatchTrampoline(batchSize: 0).rewrite(Fixtures.classifier)
    }
    var layout = XDPContextLayout.engine
    layout.stride = 0
    #expect(throws: RewriteError.invalidLayout(stride: 0)) {
      try BatchTrampoline(layout: layout).rewrite(Fixtures.classifier)
    }
  }

  @Test func shiftAdjustsFramePointerCopiesWithoutNewInstructionsWhenItCanFold() throws {
    // Naming R6 - R9 (four instructions first) puts the loop's two slots
    // on the stack, so the frame moves by 16.
    let batch = try rewrite(
      Fixtures.namingCalleeSaved(Fixtures.classifier), Variant(strategy: .shift, bound: .immediate))
    let add = try #require(batch.originalLocations[4 + 12])
    #expect(batch.program.instructions[add] == .add(.r2, immediate: -4 - 16))
    #expect(
      batch.summary.addedPerPacket == batch.layout.head.count + batch.layout.epilogue.count)
  }

  @Test(arguments: Variant.all)
  func onlyTheImmediateBoundHasAHeadThatSkipsPadding(_ variant: Variant) throws {
    let batch = try rewrite(Fixtures.classifier, variant)
    let head = Array(batch.program.instructions[batch.layout.head])
    guard variant.bound == .immediate else {
      #expect(head.isEmpty)
      return
    }
    #expect(head.count == 2)
    #expect(head.first == .load(.word, .r2, from: .r1, offset: XDPContextLayout.engine.action))
    let test = batch.layout.head.upperBound - 1
    #expect(head.last?.immediate == XDPContextLayout.paddingAction)
    // The skip lands on the step to the next record, past the verdict store.
    let target = try #require(batch.program.instructions[test].referenceTarget(at: test))
    #expect(batch.layout.epilogue.contains(target))
    let cursor = batch.layout.slots.cursorRegister ?? .r1
    #expect(batch.program.instructions[target] == .add(cursor, immediate: 32))
  }

  @Test(arguments: BatchStrategy.allCases)
  func endPointerIsCheapestPerPacketAndRedirectCostsTwoOrThree(_ strategy: BatchStrategy) throws {
    func perPacket(_ bound: BatchBound, _ program: Program) throws -> Int {
      try rewrite(program, Variant(strategy: strategy, bound: bound)).summary.addedPerPacket
    }
    for bound in [BatchBound.immediate, .count] {
      #expect(
        try perPacket(.endPointer, Fixtures.classifier) < perPacket(bound, Fixtures.classifier))
    }
    for bound in BatchBound.allCases {
      #expect(
        try perPacket(bound, Fixtures.redirecting) == perPacket(bound, Fixtures.spillAndFill) + 3)
      #expect(
        try perPacket(bound, Fixtures.redirectingThenPassing)
          == perPacket(bound, Fixtures.spillAndFill) + 2)
    }
  }
}

/// `attach` refuses an object that is already a batch form; the test it
/// uses tells every variant's output from every per-packet input.
@Suite struct BatchFormRecognitionTests {
  @Test(arguments: Variant.all)
  func batchFormsAreRecognizedAndInputsAreNot(_ variant: Variant) throws {
    for program in Fixtures.batchable {
      #expect(!BatchProgram.looksLikeBatchForm(program), "\(program.name)")
      let batch = try BatchTrampoline(strategy: variant.strategy, bound: variant.bound)
        .rewrite(program)
      #expect(BatchProgram.looksLikeBatchForm(batch.program), "\(program.name) \(variant)")
    }
  }
}
