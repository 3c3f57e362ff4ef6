import BPF
import Kernel
import Rewriter

/// How long the batch rewrite takes: each strategy x bound applied to a
/// synthetic XDP program of a given size (4,000 instructions by default)
/// with what makes the rewrite work: many exits, stack spills and fills,
/// stack pointers passed to map helpers, bounds checks. Used by
/// `xdpbatch bench` and the README's figures.
public enum RewriterBench {
  /// One variant's timing.
  public struct Result: Sendable {
    /// The stack strategy.
    public var strategy: BatchStrategy
    /// The loop bound.
    public var bound: BatchBound
    /// Instructions of the input program.
    public var instructions: Int
    /// Rewrites timed.
    public var iterations: Int
    /// The median wall time of one rewrite, in nanoseconds.
    public var medianNanoseconds: Double
    /// The fastest one.
    public var minimumNanoseconds: Double
  }

  /// Times `iterations` rewrites (after one warm-up) of a program of
  /// `instructions` slots, for every strategy and bound.
  public static func run(instructions: Int = 4_000, iterations: Int = 20) throws(RewriteError)
    -> [Result]
  {
    let input = program(instructions: instructions)
    var results: [Result] = []
    let clock = ContinuousClock()
    for strategy in BatchStrategy.allCases {
      for bound in BatchBound.allCases {
        let trampoline = BatchTrampoline(strategy: strategy, bound: bound)
        _ = try trampoline.rewrite(input)
        var times: [Double] = []
        for _ in 0..<max(iterations, 1) {
          let start = clock.now
          _ = try trampoline.rewrite(input)
          let elapsed = clock.now - start
          times.append(elapsed.nanoseconds)
        }
        times.sort()
        results.append(
          Result(
            strategy: strategy, bound: bound, instructions: input.instructions.count,
            iterations: times.count, medianNanoseconds: times[times.count / 2],
            minimumNanoseconds: times[0]))
      }
    }
    return results
  }

  /// A well-formed XDP program of exactly `instructions` slots (at least
  /// 64): R6 context, R7 `data`, R8 `data_end`, R9 an accumulator, then
  /// repeated blocks of a bounds check with its own exit, a spill and fill,
  /// a map lookup with a key on the stack (map index 0), and a conditional
  /// exit; the last exit returns the accumulator's low bits.
  public static func program(instructions: Int = 4_000) -> Program {
    let target = max(instructions, 64)
    var code: [Instruction] = [
      .move(.r6, .r1),
      .load(.word, .r7, from: .r6, offset: 0),
      .load(.word, .r8, from: .r6, offset: 4),
      .move(.r9, immediate: 0),
    ]
    for slot in 1...8 {
      code.append(.store(.doubleWord, immediate: 0, to: .r10, offset: Int16(-8 * slot)))
    }
    var block = 0
    while true {
      let slot = Int16(-8 * (block % 7 + 2))
      var next: [Instruction] = [
        .move(.r2, .r7), .add(.r2, immediate: Int32(14 + block % 40)),
        .jump(.jle, .r2, .r8, offset: 2), .move(.r0, immediate: 1), .exit,
        .store(.doubleWord, .r9, to: .r10, offset: slot),
        .load(.doubleWord, .r3, from: .r10, offset: slot),
        .arithmetic(.add, .r9, .r3),
        .store(.word, .r9, to: .r10, offset: -4),
        .move(.r2, .r10), .add(.r2, immediate: -4),
      ]
      next += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
      next += [
        .call(helper: HelperFunction.mapLookupElement.rawValue),
        .jump(.jeq, .r0, immediate: 0, offset: 2),
        .load(.doubleWord, .r3, from: .r0, offset: 0),
        .arithmetic(.add, .r9, .r3),
        .move(.r3, .r9), .arithmetic(.and, .r3, immediate: 3),
        .jump(.jne, .r3, immediate: Int32(block % 4), offset: 2),
        .move(.r0, immediate: Int32(block % 5)), .exit,
      ]
      guard code.count + next.count + 3 <= target else { break }
      code += next
      block += 1
    }
    while code.count + 3 < target { code.append(.add(.r9, immediate: 1)) }
    code += [.move(.r0, .r9), .arithmetic(.and, .r0, immediate: 7), .exit]
    return Program(name: "bench_\(target)", sectionName: "xdp", instructions: code)
  }
}
