import BPF

/// Where the values a batch loop keeps across the original program's body
/// live: stack offsets (from R10), and for the cursor and the bound the
/// callee-saved registers the program never names, when it leaves some.
///
/// A register R6 - R9 that no instruction reads or writes keeps its value
/// across the body, its helper calls (which clobber R1 - R5 only) and its
/// bpf-to-bpf calls (which preserve R6 - R9), as in the kernel: the loop
/// keeps its cursor and its end pointer or counter there and the epilogue
/// does no stack load or store for them. The verifier tracks a context
/// pointer in a register as it does in a spilled slot, so the batch
/// patches' record checks see the same pointer either way.
public struct TrampolineSlots: Hashable, Sendable {
  /// The current record's address, unless ``cursorRegister`` holds it.
  public var cursor: Int16?
  /// `immediate`: records done; `count`: records left; else unused; nil
  /// too when ``boundRegister`` holds it.
  public var counter: Int16?
  /// `end-pointer`: the address after the last record, unless
  /// ``boundRegister`` holds it.
  public var end: Int16?
  /// `count`, `end-pointer`: the record count, returned at the end.
  public var total: Int16?
  /// The register that holds the current record's address, if the
  /// program leaves one of R6 - R9 unnamed.
  public var cursorRegister: Register?
  /// The register that holds the bound (`end-pointer`: the end; `count`,
  /// `immediate`: the counter), if the program leaves a second one.
  public var boundRegister: Register?

  /// The first two of `registers` (callee-saved registers the program
  /// never names) for the cursor and the bound, and consecutive 8-byte
  /// slots downward from `top` (the highest slot's offset) for the values
  /// `bound` needs under `convention` that no register holds.
  init(
    bound: BatchBound, top: Int, convention: BatchConvention = .engine,
    registers: [Register] = []
  ) {
    var next = 0
    func slot() -> Int16 {
      defer { next += 1 }
      return Int16(top - 8 * next)
    }
    cursorRegister = registers.first
    boundRegister = registers.dropFirst().first
    let boundOnStack = boundRegister == nil
    cursor = cursorRegister == nil ? slot() : nil
    switch bound {
    case .immediate: counter = boundOnStack ? slot() : nil
    case .count: (counter, total) = (boundOnStack ? slot() : nil, slot())
    case .endPointer:
      end = boundOnStack ? slot() : nil
      if convention == .engine { total = slot() }
    }
  }

  /// The stack slots in use.
  var onStack: [Int16] { [cursor, counter, end, total].compactMap { $0 } }

  /// R6 - R9 that no instruction of `instructions` reads or writes (the
  /// verifier refuses a read of a register never written, so a register
  /// the program does not write is one it does not read either; both are
  /// checked, for input the kernel would refuse).
  static func unnamedCalleeSaved(in instructions: [Instruction]) -> [Register] {
    var named: UInt16 = 0
    var index = 0
    while index < instructions.count {
      let effects = RegisterEffects(instructions[index])
      named |= effects.reads | effects.writes
      // The second half of an ld_imm64 is no instruction of its own.
      index += instructions[index].isWideImmediateLoad ? 2 : 1
    }
    return [Register.r6, .r7, .r8, .r9].filter { named & RegisterEffects.bit($0) == 0 }
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
    let cursor = slots.cursorRegister
    // Used only while no register holds the cursor, when it is set.
    let slot = slots.cursor ?? 0
    // R1 = the current record, on every path into the body.
    let cursorToR1: Instruction =
      cursor.map { .move(.r1, $0) } ?? .load(.doubleWord, .r1, from: .r10, offset: slot)
    prologue = [cursor.map { .move($0, .r1) } ?? .store(.doubleWord, .r1, to: .r10, offset: slot)]
    if let cursor {
      epilogue = [.store(.word, .r0, to: cursor, offset: layout.action)]
    } else {
      epilogue = [cursorToR1, .store(.word, .r0, to: .r1, offset: layout.action)]
    }
    if redirectCommit != .never {
      // The redirect helpers leave their target in per-CPU state; the next
      // packet would overwrite it before the runner acts on this one. The
      // engine-only helper, or the kernel's bpf_xdp_batch_commit, keeps it
      // for this record (R1 = the record). Either clobbers R0-R5: the
      // verdict is stored above; a cursor on the stack is reloaded below,
      // one in a callee-saved register survives.
      let commit: Instruction =
        switch convention {
        case .engine: .call(helper: HelperFunction.commitRedirect.rawValue)
        case .kernel(let function): .call(kernelFunction: function ?? 0)
        }
      let commitCode = cursor == nil ? [commit, cursorToR1] : [cursorToR1, commit]
      if redirectCommit == .afterRedirectVerdict {
        // R0 still holds the verdict: other verdicts skip the commit (R1,
        // or the cursor's register, is the record on both paths).
        epilogue.append(
          .jump(
            .jne, .r0, immediate: Int32(XDPAction.redirect.rawValue),
            offset: Int16(commitCode.count)))
      }
      epilogue += commitCode
    }
    step = epilogue.count
    if let cursor {
      epilogue += [.add(cursor, immediate: layout.stride), cursorToR1]
    } else {
      epilogue += [
        .add(.r1, immediate: layout.stride),
        .store(.doubleWord, .r1, to: .r10, offset: slot),
      ]
    }
    let boundRegister = slots.boundRegister
    switch bound {
    case .immediate:
      prologue += [
        boundRegister.map { .move($0, immediate: 0) }
          ?? .store(.doubleWord, immediate: 0, to: .r10, offset: slots.counter ?? slot)
      ]
      // R2 is free here: an XDP program's only argument is R1.
      head = [
        .load(.word, .r2, from: .r1, offset: layout.action),
        .jump(.jeq, .r2, immediate: XDPContextLayout.paddingAction, offset: 0),
      ]
      paddingTest = head.count - 1
      epilogue += Self.stepCounter(
        by: 1, in: boundRegister, slot: slots.counter ?? slot,
        then: .jump(.jlt, boundRegister ?? .r2, immediate: batchSize, offset: 0))
      tail = [.move(.r0, immediate: batchSize), .exit]
    case .count:
      let (left, total) = (slots.counter ?? slot, slots.total ?? slot)
      prologue += [
        .store(.doubleWord, .r2, to: .r10, offset: total),
        boundRegister.map { .move($0, .r2) } ?? .store(.doubleWord, .r2, to: .r10, offset: left),
        .jump(.jeq, .r2, immediate: 0, offset: 0),
      ]
      emptyBatchTest = prologue.count - 1
      epilogue += Self.stepCounter(
        by: -1, in: boundRegister, slot: left,
        then: .jump(.jne, boundRegister ?? .r2, immediate: 0, offset: 0))
      tail = [.load(.doubleWord, .r0, from: .r10, offset: total), .exit]
    case .endPointer where convention != .engine:
      // The kernel passes the end of the records and never an empty batch.
      let end = slots.end ?? slot
      prologue += [
        boundRegister.map { .move($0, .r2) } ?? .store(.doubleWord, .r2, to: .r10, offset: end)
      ]
      epilogue += Self.compareWithEnd(cursor ?? .r1, boundRegister, slot: end)
      tail = [.move(.r0, immediate: 0), .exit]
    case .endPointer:
      let (end, total) = (slots.end ?? slot, slots.total ?? slot)
      prologue += [
        .store(.doubleWord, .r2, to: .r10, offset: total),
        .jump(.jeq, .r2, immediate: 0, offset: 0),
        .arithmetic(.mul, .r2, immediate: layout.stride),
        .arithmetic(.add, .r2, .r1),
        boundRegister.map { .move($0, .r2) } ?? .store(.doubleWord, .r2, to: .r10, offset: end),
      ]
      emptyBatchTest = prologue.count - 4
      epilogue += Self.compareWithEnd(cursor ?? .r1, boundRegister, slot: end)
      tail = [.load(.doubleWord, .r0, from: .r10, offset: total), .exit]
    }
  }

  /// `counter += delta` and the loop's test `then` (on the counter's
  /// register, or on R2 filled from `slot` and stored back).
  private static func stepCounter(
    by delta: Int32, in register: Register?, slot: Int16, then test: Instruction
  ) -> [Instruction] {
    if let register { return [.add(register, immediate: delta), test] }
    return [
      .load(.doubleWord, .r2, from: .r10, offset: slot),
      .add(.r2, immediate: delta),
      .store(.doubleWord, .r2, to: .r10, offset: slot),
      test,
    ]
  }

  /// `if cursor < end goto loop`, the end in `register` or filled into R2
  /// from `slot`.
  private static func compareWithEnd(_ cursor: Register, _ register: Register?, slot: Int16)
    -> [Instruction]
  {
    if let register { return [.jump(.jlt, cursor, register, offset: 0)] }
    return [
      .load(.doubleWord, .r2, from: .r10, offset: slot),
      .jump(.jlt, cursor, .r2, offset: 0),
    ]
  }
}
