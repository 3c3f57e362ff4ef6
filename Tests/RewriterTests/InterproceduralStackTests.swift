import BPF
import Testing

@testable import Rewriter

/// Pointers into the main frame passed to bpf-to-bpf subprograms: the
/// analysis follows them into the callee, per call site, as the verifier
/// checks each callee with its caller's state, and counts every byte the
/// callee reaches as an access of the main frame.
@Suite struct InterproceduralStackTests {
  static func program(_ main: [Instruction], _ subprograms: [[Instruction]]) -> Program {
    var instructions = main
    var starts: [Program.Subprogram] = []
    for (number, body) in subprograms.enumerated() {
      starts.append(.init(name: "sub\(number)", start: instructions.count, length: body.count))
      instructions += body
    }
    return Program(
      name: "interprocedural", sectionName: "xdp", instructions: instructions,
      mainLength: main.count, subprograms: starts)
  }

  /// main: zero two slots, pass r10 - 16 to `fill`, return the first.
  /// fill: *(u64 *)(r1 + 0) = 1; *(u64 *)(r1 + 8) = 2.
  static let fillsCallersBuffer = program(
    [
      .store(.doubleWord, immediate: 0, to: .r10, offset: -8),  // 0
      .store(.doubleWord, immediate: 0, to: .r10, offset: -16),  // 1
      .move(.r1, .r10), .add(.r1, immediate: -16),  // 2, 3
      .call(local: 3),  // 4 -> 8
      .load(.doubleWord, .r0, from: .r10, offset: -16),  // 5
      .arithmetic(.and, .r0, immediate: 3),  // 6
      .exit,  // 7
    ],
    [
      [
        .store(.doubleWord, immediate: 1, to: .r1, offset: 0),  // 8
        .store(.doubleWord, immediate: 2, to: .r1, offset: 8),  // 9
        .move(.r0, immediate: 0), .exit,  // 10, 11
      ]
    ])

  @Test func accessesThroughThePointerAreTheMainFramesAtTheCalleesIndices() throws {
    let frame = StackFrameAnalysis(Self.fillsCallersBuffer)
    #expect(frame.hazards.isEmpty)
    #expect(frame.reach(of: 8) == -16..<(-8))
    #expect(frame.reach(of: 9) == -8..<0)
    #expect(frame.accesses.filter { $0.index >= 8 }.allSatisfy { !$0.isDirect })
    #expect(frame.stackDepth == 16)
    #expect(frame.framePointerCopies == [2], "the callee's own R10 is not the main frame's")
  }

  /// Regression (make fuzz, LeakSanitizer): each cached effect held the
  /// analyses of callees that cache it, so they were never freed.
  @Test func theAnalysesOfCalleesAreFreedWithTheAnalysis() {
    weak var callees: CalleeAnalyses?
    do {
      let frame = StackFrameAnalysis(Self.fillsCallersBuffer)
      #expect(frame.reach(of: 8) == -16..<(-8), "the callee was analysed")
      callees = frame.calleeAnalyses
      #expect(callees != nil)
    }
    #expect(callees == nil)
  }

  @Test func aCalleeMayReachBelowItsCallersOwnUse() {
    // The caller touches only r10 - 8; the callee writes 24 bytes below.
    let program = Self.program(
      [
        .move(.r1, .r10), .add(.r1, immediate: -8), .call(local: 1),  // 0-2 -> 4
        .exit,  // 3
      ],
      [[.store(.doubleWord, immediate: 7, to: .r1, offset: -24), .move(.r0, immediate: 2), .exit]])
    let frame = StackFrameAnalysis(program)
    #expect(frame.hazards.isEmpty)
    #expect(frame.reach(of: 4) == -32..<(-24))
    #expect(frame.stackDepth == 32)
  }

  @Test func aBoundedLoopInTheCalleeCoversTheBuffer() throws {
    // callee: for (i = 0; i < 16; i++) buf[i] = i;
    let program = Self.program(
      [.move(.r1, .r10), .add(.r1, immediate: -16), .call(local: 1), .exit],
      [
        [
          .move(.r3, immediate: 0),  // 4
          .move(.r4, .r1), .arithmetic(.add, .r4, .r3),  // 5, 6
          .store(.byte, .r3, to: .r4, offset: 0),  // 7
          .add(.r3, immediate: 1),  // 8
          .jump(.jlt, .r3, immediate: 16, offset: -5),  // 9 -> 5
          .move(.r0, immediate: 2), .exit,  // 10, 11
        ]
      ])
    let frame = StackFrameAnalysis(program)
    #expect(frame.hazards.isEmpty)
    #expect(frame.reach(of: 7) == -16..<0)
    #expect(frame.stackDepth == 16)
  }

  @Test func anUnboundedIndexInTheCalleeIsAHazardAtItsInstruction() {
    let program = Self.program(
      [.move(.r1, .r10), .add(.r1, immediate: -16), .call(local: 1), .exit],
      [
        [
          .load(.word, .r2, from: .r1, offset: 0),  // 4: any u32
          .arithmetic(.add, .r1, .r2),  // 5
          .store(.byte, immediate: 0, to: .r1, offset: 0),  // 6
          .move(.r0, immediate: 2), .exit,
        ]
      ])
    let frame = StackFrameAnalysis(program)
    guard case .variableOffset(6, let lower, let upper) = frame.hazards.first else {
      Issue.record("expected an unbounded offset at instruction 6, got \(frame.hazards)")
      return
    }
    #expect(lower == -16 && upper > FrameValue.offsetLimit)
  }

  @Test func nestedCallsAndReturnedPointersAreFollowed() throws {
    // main passes r10 - 8 to `outer`, which passes it on to `inner`
    // (writing 8 bytes below it) and returns it plus 4; main writes through
    // the returned pointer.
    let program = Self.program(
      [
        .move(.r1, .r10), .add(.r1, immediate: -8),  // 0, 1
        .call(local: 3),  // 2 -> 6
        .store(.word, immediate: 9, to: .r0, offset: 0),  // 3: r10 - 4
        .move(.r0, immediate: 2), .exit,  // 4, 5
      ],
      [
        [
          .move(.r6, .r1),  // 6
          .call(local: 3),  // 7 -> 11
          .move(.r0, .r6), .add(.r0, immediate: 4),  // 8, 9
          .exit,  // 10
        ],
        [.store(.doubleWord, immediate: 1, to: .r1, offset: -8), .move(.r0, immediate: 0), .exit],
      ])
    let frame = StackFrameAnalysis(program)
    #expect(frame.hazards.isEmpty)
    #expect(frame.reach(of: 11) == -16..<(-8))
    #expect(frame.reach(of: 3) == -4..<0)
    #expect(frame.state(before: 3)?[.r0] == .frame(-4))
    #expect(frame.stackDepth == 16)
  }

  @Test func whatTheCalleeCannotBeBoundedInIsAHazard() {
    // A pointer stored outside the frame by the callee, and a recursion
    // past the verifier's eight frames.
    let escaping = Self.program(
      [
        .move(.r1, .r10), .add(.r1, immediate: -8), .move(.r2, immediate: 0), .call(local: 1),
        .exit,
      ],
      [[.store(.doubleWord, .r1, to: .r2, offset: 0), .move(.r0, immediate: 2), .exit]])
    #expect(
      StackFrameAnalysis(escaping).hazards == [.escapes(index: 5, how: .storedOutsideFrame)])
    #expect(
      StackFrameAnalysis(Self.recursive).hazards
        == [.passedToSubprogram(index: 4, register: .r1)])
  }

  /// `sub` calls itself with the pointer: bounded by no frame limit.
  static let recursive = program(
    [.move(.r1, .r10), .add(.r1, immediate: -8), .call(local: 1), .exit],
    [[.call(local: -1), .move(.r0, immediate: 2), .exit]])

  @Test func bothStrategiesRewriteAndTheRecursionIsRefused() throws {
    for strategy in BatchStrategy.allCases {
      for bound in BatchBound.allCases {
        let batch = try BatchTrampoline(strategy: strategy, bound: bound, batchSize: 4)
          .rewrite(Self.fillsCallersBuffer)
        let moved = StackFrameAnalysis(batch.program, entryRegisters: [.r1, .r2])
        #expect(moved.hazards.isEmpty, "\(strategy)/\(bound): \(moved.hazards)")
        if strategy == .reserve {
          #expect(Int(batch.layout.slots.cursor) <= -16 - 8)
        }
      }
      #expect(throws: RewriteError.unprovableStack(.passedToSubprogram(index: 4, register: .r1))) {
        try BatchTrampoline(strategy: strategy).rewrite(Self.recursive)
      }
    }
  }
}
