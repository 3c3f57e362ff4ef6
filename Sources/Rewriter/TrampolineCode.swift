import BPF

/// Stack offsets (from R10) of the values a batch loop keeps across the
/// original program's body, which may clobber every register.
public struct TrampolineSlots: Hashable, Sendable {
  /// The current record's address.
  public var cursor: Int16
  /// `immediate`: records done; `count`: records left; else unused.
  public var counter: Int16?
  /// `end-pointer`: the address after the last record.
  public var end: Int16?
  /// `count`, `end-pointer`: the record count, returned at the end.
  public var total: Int16?

  /// Consecutive 8-byte slots downward from `top` (the highest slot's
  /// offset), as many as `bound` needs under `convention`.
  init(bound: BatchBound, top: Int, convention: BatchConvention = .engine) {
    func slot(_ number: Int) -> Int16 { Int16(top - 8 * number) }
    cursor = slot(0)
    switch bound {
    case .immediate: counter = slot(1)
    case .count: (counter, total) = (slot(1), slot(2))
    case .endPointer:
      end = slot(1)
      if convention == .engine { total = slot(2) }
    }
  }
}

/// The instructions of a batch trampoline for one bound: a prologue that
/// runs once, the per-packet epilogue that ends with the loop's back edge,
/// and the tail that returns the record count.
///
/// Under the `immediate` bound the loop always runs the batch size, so a
/// runner pads a partial batch with records marked
/// ``XDPContextLayout/paddingAction`` in `act`. A head before the body
/// (run for every record) skips a marked record straight to the step to
/// the next one: the program never runs on padding, so its side effects
/// (map updates, counters) happen once per real packet.
///
/// Jump distances that reach outside these pieces (the back edge to the
/// head or the program's first instruction, the empty-batch test to the
/// tail, the padding test to the step) are placeholders;
/// ``BatchTrampoline`` aims them once the layout is known.
struct TrampolineCode {
  var prologue: [Instruction] = []
  /// Index in ``prologue`` of `if r2 == 0 goto tail`, if any.
  var emptyBatchTest: Int?
  /// Runs before the body for every record (the back edge's target);
  /// empty unless the bound pads.
  var head: [Instruction] = []
  /// Index in ``head`` of `if act == padding goto step`, if any.
  var paddingTest: Int?
  var epilogue: [Instruction] = []
  /// Index in ``epilogue`` of the step to the next record (`r1 += stride`),
  /// where R1 holds the current record on every path.
  var step = 0
  var tail: [Instruction] = []

  /// The back edge is the last instruction of the epilogue.
  var backEdge: Int { epilogue.count - 1 }

  init(
    bound: BatchBound, slots: TrampolineSlots, batchSize: Int32, layout: XDPContextLayout,
    redirectCommit: RedirectCommit, convention: BatchConvention = .engine
  ) {
    let cursor = slots.cursor
    prologue = [.store(.doubleWord, .r1, to: .r10, offset: cursor)]
    epilogue = [
      .load(.doubleWord, .r1, from: .r10, offset: cursor),
      .store(.word, .r0, to: .r1, offset: layout.action),
    ]
    if redirectCommit != .never {
      // The redirect helpers leave their target in per-CPU state; the next
      // packet would overwrite it before the runner acts on this one. The
      // engine-only helper, or the kernel's bpf_xdp_batch_commit, keeps it
      // for this record (R1 = the record). Either clobbers R0-R5: the
      // verdict is stored above, and R1 is reloaded below.
      if redirectCommit == .afterRedirectVerdict {
        // R0 still holds the verdict: other verdicts skip the commit and
        // the reload (R1 is the record on both paths).
        epilogue.append(
          .jump(.jne, .r0, immediate: Int32(XDPAction.redirect.rawValue), offset: 2))
      }
      let commit: Instruction =
        switch convention {
        case .engine: .call(helper: HelperFunction.commitRedirect.rawValue)
        case .kernel(let function): .call(kernelFunction: function ?? 0)
        }
      epilogue += [commit, .load(.doubleWord, .r1, from: .r10, offset: cursor)]
    }
    step = epilogue.count
    epilogue += [
      .add(.r1, immediate: layout.stride),
      .store(.doubleWord, .r1, to: .r10, offset: cursor),
    ]
    switch bound {
    case .immediate:
      let counter = slots.counter ?? cursor
      prologue += [.store(.doubleWord, immediate: 0, to: .r10, offset: counter)]
      // R2 is free here: an XDP program's only argument is R1.
      head = [
        .load(.word, .r2, from: .r1, offset: layout.action),
        .jump(.jeq, .r2, immediate: XDPContextLayout.paddingAction, offset: 0),
      ]
      paddingTest = head.count - 1
      epilogue += [
        .load(.doubleWord, .r2, from: .r10, offset: counter),
        .add(.r2, immediate: 1),
        .store(.doubleWord, .r2, to: .r10, offset: counter),
        .jump(.jlt, .r2, immediate: batchSize, offset: 0),
      ]
      tail = [.move(.r0, immediate: batchSize), .exit]
    case .count:
      let (left, total) = (slots.counter ?? cursor, slots.total ?? cursor)
      prologue += [
        .store(.doubleWord, .r2, to: .r10, offset: total),
        .store(.doubleWord, .r2, to: .r10, offset: left),
        .jump(.jeq, .r2, immediate: 0, offset: 0),
      ]
      emptyBatchTest = prologue.count - 1
      epilogue += [
        .load(.doubleWord, .r2, from: .r10, offset: left),
        .add(.r2, immediate: -1),
        .store(.doubleWord, .r2, to: .r10, offset: left),
        .jump(.jne, .r2, immediate: 0, offset: 0),
      ]
      tail = [.load(.doubleWord, .r0, from: .r10, offset: total), .exit]
    case .endPointer where convention != .engine:
      // The kernel passes the end of the records and never an empty batch.
      let end = slots.end ?? cursor
      prologue += [.store(.doubleWord, .r2, to: .r10, offset: end)]
      epilogue += [
        .load(.doubleWord, .r2, from: .r10, offset: end),
        .jump(.jlt, .r1, .r2, offset: 0),
      ]
      tail = [.move(.r0, immediate: 0), .exit]
    case .endPointer:
      let (end, total) = (slots.end ?? cursor, slots.total ?? cursor)
      prologue += [
        .store(.doubleWord, .r2, to: .r10, offset: total),
        .jump(.jeq, .r2, immediate: 0, offset: 0),
        .arithmetic(.mul, .r2, immediate: layout.stride),
        .arithmetic(.add, .r2, .r1),
        .store(.doubleWord, .r2, to: .r10, offset: end),
      ]
      emptyBatchTest = prologue.count - 4
      epilogue += [
        .load(.doubleWord, .r2, from: .r10, offset: end),
        .jump(.jlt, .r1, .r2, offset: 0),
      ]
      tail = [.load(.doubleWord, .r0, from: .r10, offset: total), .exit]
    }
  }
}
