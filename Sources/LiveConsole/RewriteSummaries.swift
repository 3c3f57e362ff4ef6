import BPF
import Deployment

/// The batch rewrite's instruction counts, computed once per program and
/// rewrite (reading the object and rewriting is too slow for every frame).
struct RewriteSummaries {
  /// Instructions as compiled, and after the rewrite (`nil` when the
  /// rewriter refuses the program, as it does tail calls).
  struct Counts: Hashable {
    var before: Int
    var after: Int?
    /// Why the rewriter refused the program, when it did.
    var refusal: String?
  }

  private struct Key: Hashable {
    var object: String
    var program: String
    var strategy: BatchStrategy
    var bound: BatchBound
  }

  private var known: [Key: Counts?] = [:]

  /// The counts for `record`'s program and rewrite, `nil` when the object
  /// is unreadable.
  mutating func counts(of record: AttachmentRecord) -> Counts? {
    let key = Key(
      object: record.object, program: record.program, strategy: record.strategy,
      bound: record.bound)
    if let counts = known[key] { return counts }
    var counts: Counts?
    do {
      let summary = try record.source.batchSummary(record.batchTrampoline)
      counts = Counts(before: summary.instructionsBefore, after: summary.instructionsAfter)
    } catch {
      // The object reads but the rewrite fails: the rewriter's refusal.
      if let compiled = try? record.source.compiledSpec() {
        counts = Counts(
          before: compiled.program.instructions.count, after: nil, refusal: "\(error)")
      }
    }
    known[key] = counts
    return counts
  }
}
