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

  /// Regression (make fuzz, `Fuzz/Findings/slow-callee-analysis.bin`):
  /// main (0-95) runs a loop whose R0 grows one step a turn for some 520
  /// turns before it widens, then calls sub0 (96-120) with R1 = that R0
  /// and R2 = r10 - 128; sub0 passes the pointer on to sub1 (121-164),
  /// which has loops of its own. Each turn's R0 was a new entry state for
  /// the callee analyses, walked as soon as it arrived: 1,041 callee
  /// solves (9.6 s of CPU in the release batch rewrite). The blocks after
  /// a loop now wait until it is stable: one solve per callee entry.
  @Test func aCallAfterAGrowingLoopIsAnalysedOncePerCallee() throws {
    let code = [
      "bf160000000000001800000046100bfc000000005835de1c18070000987bbcbf00000000dd7e532f",
      "18080000fb29c3f200000000827affe7b70900007bc7b2b37a0a40ff7bae4a657a0a48ffaef603e5",
      "7a0a50ff3f5887cc7a0a58ffef6ff86c7a0a60ffe8b0e6357a0a68ff31bb99777a0a70ff61b10361",
      "7a0a78ffb8cbf1ae7a0a80ff30a45df37a0a88ff1eda32197a0a90ff9d9ae7127a0a98ffad6ef3d4",
      "7a0aa0ff699b5d527a0aa8ffce1296d57a0ab0ff4cfc66c17a0ab8ff02f1631d7a0ac0ff8d8e28b1",
      "7a0ac8ff71b82a967a0ad0ffdcc507e47a0ad8ff2ebfa2527a0ae0ffe5ceef8e7a0ae8ff32510720",
      "7a0af0ff0fccd72d7a0af8ff1c9d6d821e07020000000000b7000000000000009500000000000000",
      "61620000000000006163040000000000bf24000000000000070400001a0000002d34010000000000",
      "6a020a00bb690f9ab40800007f0000002f09000000000000b709000006000000bc08080000000000",
      "b7080000ff0000001700000069a1e6ef94070100ceef8ebd730adfff0000000004090000ffffffff",
      "5609f9ff0000000061620000000000006163040000000000bf240000000000000704000017000000",
      "2d3402000000000073921600000000007129070000000000bf01000000000000bfa2000000000000",
      "0702000080ffffff8510000022000000b70900000600000069a040ff00000000b700000000000000",
      "d708000040000000b408000034d3aef64f700000000000000400000040d412e204090000ffffffff",
      "5609f8ff0000000061620000000000006163040000000000bf24000000000000070400003f000000",
      "2d340400000000007a020a00b8cbf1ae738216000000000089290000000000006129340000000000",
      "620a40ff0700000018510000020000000000000000000000bfa20000000000000702000040ffffff",
      "bfa30000000000000703000050ffffff180400000100000000000000000000008500000002000000",
      "bf71000000000000bfa20000000000000702000080ffffff851000001b000000bf70000000000000",
      "9500000000000000bf26000000000000bf1700000000000018000000ffffffff00000000ffffff7f",
      "b7080000cbf1ae8eb7090000ffffffff7a0ac0ff979f27307a0ac8ff116e681e7a0ad0ff3c04e09d",
      "7a0ad8ff3e47ecad7a0ae0ffb92d2a697a0ae8ffceedaace7a0af0ff56cd8a4c7a0af8ff04799a02",
      "bf71000000000000bf62000000000000851000000800000091a7d4ff00000000b701000002000000",
      "1802000000000000000000000000000085000000170000007160280000000000bf90000000000000",
      "9500000000000000bf26000000000000bf17000000000000b7000000ffffffffb708000000000000",
      "18090000ef8ebd8000000000b4cb2ebf7a0ac0ff510720867a0ac8ffccd72d9e7a0ad0ff9d6d8202",
      "7a0ad8ff90c6394d7a0ae0fff9ca55dd7a0ae8ffbb690f9a7a0af0ff0f9e24447a0af8ff1fb0a957",
      "7a0af0ffffffff7fb709000006000000bc08080000000000b7080000ff0000001700000069a1e6ef",
      "94070100ceef8ebd81681c000000000007090000ffffffff5509f9ff00000000b7070000100bfc1e",
      "180100002525643d00000000256400007b1ad0ff000000007a0af8ff6f6b0000bf93000000000000",
      "bf94000000000000bf85000000000000bfa100000000000007010000d0ffffffb702000007000000",
      "8500000006000000670000003a00000047080000b34fc446b709000006000000b7080000f603e583",
      "d70700004000000007090000ffffffff5509fcff00000000bf900000000000009500000000000000",
    ].joined()
    var bytes: [UInt8] = []
    var index = code.startIndex
    while index < code.endIndex {
      let next = code.index(index, offsetBy: 2)
      bytes.append(try #require(UInt8(code[index..<next], radix: 16)))
      index = next
    }
    let instructions = try Instruction.decode(littleEndian: bytes)
    #expect(instructions.count == 165)
    let program = Program(
      name: "slow-callee-analysis", sectionName: "xdp", instructions: instructions,
      mainLength: 96,
      subprograms: [
        .init(name: "sub0", start: 96, length: 25), .init(name: "sub1", start: 121, length: 44),
      ])
    let frame = StackFrameAnalysis(program)
    let solves = try #require(frame.calleeAnalyses).solveCount
    #expect(solves <= 3, "callee solves: \(solves)")
    #expect(frame.hazards.isEmpty)
    #expect(frame.stackDepth == 192)
    #expect(frame.reach(of: 118) == -88..<(-87), "sub0: r6 (= r10 - 128) + 40, one byte")
    #expect(frame.reach(of: 141) == -100..<(-96), "sub1: an atomic at r6 (= r10 - 128) + 28")
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
          // Its loop keeps the cursor in a register; the total's slot
          // (count, end-pointer) sits below what the callee reaches.
          #expect(batch.layout.slots.onStack.allSatisfy { Int($0) <= -16 - 8 })
        }
      }
      #expect(throws: RewriteError.unprovableStack(.passedToSubprogram(index: 4, register: .r1))) {
        try BatchTrampoline(strategy: strategy).rewrite(Self.recursive)
      }
    }
  }
}
