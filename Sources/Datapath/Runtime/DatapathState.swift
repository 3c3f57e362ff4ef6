import BPF
import Engine
import Synchronization

/// What every queue's worker shares: the form to run, the stop request and
/// the first engine fault (for the log).
final class DatapathState: Sendable {
  private let formValue: Atomic<Int>
  /// Form changes so far: a queue opens a ``ComparisonWindow`` when it
  /// sees this move.
  private let swapCount = Atomic<Int>(0)
  /// Set to stop the workers after their current batch.
  let stopping = Atomic<Bool>(false)
  private let firstError = Mutex<String?>(nil)

  init(form: Form) { formValue = Atomic(form == .batch ? 1 : 0) }

  /// The form the next RX batch runs in.
  var form: Form {
    get { formValue.load(ordering: .acquiring) == 1 ? .batch : .perPacket }
    set {
      let old = formValue.exchange(newValue == .batch ? 1 : 0, ordering: .acquiringAndReleasing)
      if old != (newValue == .batch ? 1 : 0) { swapCount.add(1, ordering: .releasing) }
    }
  }

  /// How many times the form changed since the datapath started.
  var swaps: Int { swapCount.load(ordering: .acquiring) }

  /// Keeps the first engine fault, to report it once.
  func note(_ error: RunError) {
    firstError.withLock { if $0 == nil { $0 = error.description } }
  }

  /// The first engine fault, if any, cleared.
  func takeError() -> String? {
    firstError.withLock { error in
      defer { error = nil }
      return error
    }
  }
}

/// The program prepared on one queue's machine in both forms.
struct ProgramForms {
  /// As compiled, one call a frame.
  var perPacket: PreparedProgram
  /// The rewriter's batch form, when the program has one.
  var batch: PreparedProgram?
  /// For the `immediate` bound: the record count every batch is padded to.
  var padded: Int?
}

/// One queue's counts and timings since the datapath started.
struct QueueReport {
  var totals = DatapathCounters.Totals()
  var timing = TimingByForm()
  /// Both forms measured alternately in the window after the last swap
  /// (``ComparisonWindow``).
  var comparison = TimingByForm()
  var slowPath = SlowPathCalls()
  var redirectFailures = RedirectFailures()
  var redirectErrors = RedirectErrors()
  /// Why the queue's machine runs the program in the interpreter although
  /// the JIT was asked for.
  var engineFallback: String?
  /// Why this queue's last exchange with the kernel's maps failed in
  /// part (nil: it did not).
  var mapProblem: String?
  /// Exchanges with the kernel's maps, and the nanoseconds they took.
  var exchanges: UInt64 = 0
  var exchangeNanoseconds: UInt64 = 0
}
