import BPF
import Rewriter

extension AttachmentRecord {
  /// The rewrite that makes this program's batch form (what `swap` uses).
  public var batchTrampoline: BatchTrampoline {
    BatchTrampoline(strategy: strategy, bound: bound)
  }

  /// The program as the record names it.
  public var source: ProgramSource {
    ProgramSource(objectPath: object, programName: program)
  }
}
