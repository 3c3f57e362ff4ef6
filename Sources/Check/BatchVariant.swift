import BPF
import Rewriter

/// One way of building a batch program: a stack strategy and a loop bound,
/// the six combinations `xdpbatch check` compares with the per-packet form.
public struct BatchVariant: Hashable, Sendable, CustomStringConvertible {
  /// Where the loop's values live on the stack.
  public var strategy: BatchStrategy
  /// How the loop knows when to stop.
  public var bound: BatchBound

  /// Names a variant.
  public init(strategy: BatchStrategy, bound: BatchBound) {
    self.strategy = strategy
    self.bound = bound
  }

  /// Every strategy with every bound, strategy first.
  public static let all: [BatchVariant] = BatchStrategy.allCases.flatMap { strategy in
    BatchBound.allCases.map { BatchVariant(strategy: strategy, bound: $0) }
  }

  /// `shift/immediate`.
  public var description: String { "\(strategy.rawValue)/\(bound.rawValue)" }

  /// The rewriter configured for this variant.
  public func trampoline(batchSize: Int) -> BatchTrampoline {
    BatchTrampoline(strategy: strategy, bound: bound, batchSize: batchSize)
  }
}
