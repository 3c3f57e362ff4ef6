import Rewriter

extension AttachmentRecord {
  /// The stack strategy the batch form uses: the recorded one, or the
  /// rewriter's default when none was chosen.
  public var batchStrategy: BatchStrategy {
    strategy.flatMap(BatchStrategy.init(rawValue:)) ?? BatchTrampoline().strategy
  }

  /// The loop bound the batch form uses: the recorded one, or the
  /// rewriter's default.
  public var batchBound: BatchBound {
    bound.flatMap(BatchBound.init(rawValue:)) ?? BatchTrampoline().bound
  }

  /// The rewrite that makes this program's batch form (what `swap` uses).
  public var batchTrampoline: BatchTrampoline {
    BatchTrampoline(strategy: batchStrategy, bound: batchBound)
  }

  /// The program as the record names it.
  public var source: ProgramSource {
    ProgramSource(objectPath: object, programName: program)
  }
}
