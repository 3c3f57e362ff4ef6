/// Compiles a ``PreparedProgram`` to x86-64, one pass over its slots.
///
/// Modelled on the kernel's arch/x86/net/bpf_jit_comp.c: BPF registers live
/// in fixed x86 registers (``JITRegisters``), helpers are called with the C
/// calling convention, bpf-to-bpf calls are native calls. Unlike the
/// kernel's JIT, nothing is trusted: every load and store not proven inside
/// the current stack frame (``StackPointers``) is checked against the engine's address space, and
/// instructions are counted (``CountingPlan``) so the instruction budget,
/// the instruction count and every error match the interpreter's.
struct JITCompiler {
  var a = X86Assembler()
  let slots: UnsafeMutablePointer<Slot>
  let slotCount: Int
  var slotLabels: [CodeLabel] = []
  var leaders: [Bool]
  /// The slots a jump or a call may enter: where the proven copy starts a
  /// basic block (its other leaders are only where code may leave for
  /// the checked copy, through a ``copyExit(_:)`` that counts for it).
  var targets: [Bool]
  /// Slots a jump at or after them leads back to: loop heads, placed at a
  /// 32-byte boundary (``X86Assembler/align(to:)``).
  var loopHeads: Set<Int> = []
  /// Where the count must be exact and which jumps are cold (``CountingPlan``).
  let counting: CountingPlan
  /// Per basic block entry (a slot's label in one copy), the lag the
  /// counter has there (``enter(_:at:)``).
  var entryLags: [CodeLabel: Int] = [:]
  /// Per entry no jump fixed yet, the lag of the first ``Edge`` to it.
  var firstEdgeLags: [CodeLabel: Int] = [:]
  /// Cold jumps' taken edges and the exits to the checked copy
  /// (``emitEdges()``).
  var edges: [Edge] = []
  /// Whether the code emitted last may run on into the next slot.
  var fallsThrough = true
  /// Registers known to point into the current stack frame.
  let stackPointers: StackPointers
  /// Packet pointers and the ranges the program proves (``PacketRanges``).
  let packetRanges: PacketRanges
  /// Pointers into array map values of known size (``MapValuePointers``).
  let mapValues: MapValuePointers
  /// A batch form's cursor among the records the caller passed
  /// (``RecordCursors``).
  let records: RecordCursors
  /// Loads of `data` or `data_end` whose check, in the proven copy, covers
  /// both fields at once (``contextFieldSites(slots:count:leaders:packetRanges:)``).
  var contextFields: Set<Int> = []
  /// Whether the body being emitted is the copy that leaves accesses in a
  /// proven packet range or record unchecked (``PacketRanges``,
  /// ``RecordCursors``); the other copy, entered where a proof's bytes are
  /// not in one region, checks them all.
  var provenBody = false
  /// The labels of the fully checked copy's slots.
  var checkedLabels: [CodeLabel] = []
  /// Per register (R0-R10), the bytes relative to its value that a check
  /// in the current basic block allowed (``CheckedSpans``).
  var checkedSpans = CheckedSpans()
  /// What R11 holds here (``hostOperand``): the arena from the first
  /// unchecked access of a basic block, or the host address of a BPF
  /// register's value plus a constant from the last checked access (or
  /// check of both context fields) through it; nothing known after
  /// anything else that may write R11 (a call, an atomic, a packet
  /// guard).
  var address = AddressRegister.unknown
  /// Whether R11 holds the arena here.
  var arenaInAddress: Bool {
    get { address == .arena }
    set { address = newValue ? .arena : .unknown }
  }

  /// What R11 holds between accesses.
  enum AddressRegister: Equatable {
    case unknown
    case arena
    /// The arena plus the value of BPF register `of` plus `plus` (valid
    /// while the register's ``CheckedSpans`` entry stands: it goes when the
    /// register is written).
    case host(of: UInt8, plus: Int32)
  }
  /// Instructions executed that the counter register does not hold yet
  /// (its lag, ``CountingPlan``).
  var pending = 0
  var stubs: [FaultStub] = []
  var epilogue = CodeLabel(id: 0)
  /// Where an `exit` proven to be frame 0's leaves: the epilogue without
  /// the reload of RSP (the stack is as the prologue left it).
  var frameExit = CodeLabel(id: 0)
  var callbackFailed = CodeLabel(id: 0)
  /// Checked accesses whose window compares failed (``AccessWindow``).
  var windowMisses: [WindowMiss] = []
  /// Which access window each checked access uses (``AccessWindow/Plan``).
  var windows = AccessWindow.Plan()
  /// The routines the inline packet helpers call, once any is emitted.
  var packetRoutines: PacketRoutines?
  /// The callee-saved registers the prologue pushes (``CalleeSaved``).
  let saved: CalleeSaved
  /// What each bpf-to-bpf call site pushes, and the exits that only
  /// return to one (``LocalCalls``).
  let localCalls: LocalCalls

  /// An out-of-line exit that records an error and leaves.
  struct FaultStub {
    var label: CodeLabel
    var status: JITContext.Status
    var index: Int
    var pending: Int
    var size = 0
    var write = false
  }

  init(
    _ program: PreparedProgram, storage: MapValuePointers.Storage = .init(),
    provingFrames: Bool = true
  ) {
    slots = program.slots
    slotCount = program.count + 1
    leaders = Array(repeating: false, count: slotCount)
    targets = leaders
    stackPointers = StackPointers(slots: slots, count: slotCount)
    records = RecordCursors(slots: slots, count: slotCount)
    packetRanges = PacketRanges(slots: slots, count: slotCount, records: records)
    mapValues = MapValuePointers(slots: slots, count: slotCount, storage: storage)
    saved = CalleeSaved(
      slots: slots, count: slotCount, usesTailCalls: program.usesTailCalls)
    localCalls = LocalCalls(slots: slots, count: slotCount, provingFrames: provingFrames)
    counting = CountingPlan(slots: slots, count: slotCount)
    // A proof's check may leave for the checked copy's slot: both copies
    // count instructions from there.
    for index in packetRanges.guardSites.keys { leaders[index] = true }
    for index in records.guardSites.keys { leaders[index] = true }
    // The entry's check of R1 may leave for the checked copy's start.
    if packetRanges.trusts { leaders[0] = true }
    for index in 0..<slotCount {
      let slot = slots[index]
      if slot.operation.isJump || slot.operation == .callLocal {
        let target = Int(slot.offset)
        if target >= 0 && target < slotCount { (leaders[target], targets[target]) = (true, true) }
        if slot.operation.isJump, target >= 0, target <= index { loopHeads.insert(target) }
      }
    }
    // A check of both context fields may leave for the checked copy's
    // slot too (only where there are two copies).
    if !packetRanges.proofSites.isEmpty || packetRanges.trusts {
      contextFields = Self.contextFieldSites(
        slots: slots, count: slotCount, leaders: leaders, packetRanges: packetRanges)
      for index in contextFields { leaders[index] = true }
    }
  }

  /// The code and the offset of the body (where tail calls enter).
  /// `provingFrames: false` gives code that counts the call depth, for
  /// tail calls taken deeper than frame 0 (``FrameDepths``).
  static func compile(
    _ program: PreparedProgram, storage: MapValuePointers.Storage = .init(),
    provingFrames: Bool = true
  ) throws(JITError) -> CompiledProgram {
    #if arch(x86_64)
      var compiler = JITCompiler(program, storage: storage, provingFrames: provingFrames)
      let body = compiler.emitProgram()
      guard let code = compiler.a.finish() else {
        throw .unresolvedLabel(program: program.name)
      }
      return CompiledProgram(
        memory: try ExecutableMemory(code), bodyOffset: body, bytes: code,
        framesProven: compiler.localCalls.frameDepths != nil)
    #else
      throw .unsupportedArchitecture
    #endif
  }

  private mutating func emitProgram() -> Int {
    let r = JITRegisters.self
    slotLabels = (0..<slotCount).map { _ in a.makeLabel() }
    epilogue = a.makeLabel()
    frameExit = a.makeLabel()
    callbackFailed = a.makeLabel()
    // Prologue: save the callee-saved registers the code writes, align
    // the stack, take R1 and R2 from the C arguments (RSI, RDX: the
    // context block is RDI), load R10.
    for reg in saved.registers { a.push(reg) }
    if saved.padding > 0 {
      a.arithmetic(digit: 5, .rsp, immediate: saved.padding, wide: true)
    }
    a.move(r.context, .rdi)
    a.move(r.bpf(1), .rsi)
    a.move(r.bpf(2), .rdx)
    emitWindowReset()
    a.store(.rsp, r.context, JITContext.savedStack)
    for number in saved.zeroed {
      a.arithmetic(0x31, r.bpf(number), r.bpf(number), wide: false)  // xor: a zero idiom
    }
    a.load(.rbp, r.context, JITContext.stackTops)
    a.arithmetic(0x31, r.counter, r.counter, wide: false)  // xor
    a.store(immediate: 0, r.context, JITContext.tailCalls)
    let body = a.bytes.count
    // With proofs, two copies of the body: the first leaves proven packet
    // and record accesses unchecked, the second (entered only from the
    // first) checks.
    let copies =
      packetRanges.proofSites.isEmpty && records.guardSites.isEmpty && !packetRanges.trusts
      ? 1 : 2
    checkedLabels = copies == 2 ? (0..<slotCount).map { _ in a.makeLabel() } : slotLabels
    provenBody = copies == 2
    if packetRanges.trusts { emitTrustCheck() }
    emitBody()
    if copies == 2 {
      slotLabels = checkedLabels
      provenBody = false
      (pending, fallsThrough) = (0, false)
      emitBody()
    }
    // Epilogue: publish the count, restore the caller's registers: those
    // of the entry's frame, which after a tail call is a program that
    // saved all six (``CalleeSaved``).
    // Exits that may come from deeper (faults, budget stops, an `exit`
    // whose depth is counted) put RSP back first. An exit of frame 0
    // (``frameExit``) leaves RSP where the prologue did and skips the
    // reload: the reload makes RSP, and the caller's registers popped
    // after it, wait for the store the prologue made, and a caller that
    // calls again and again (a driver's loop) waits for that chain on
    // every call. Code that saves all six keeps the reload on every exit.
    let entryFrame = a.makeLabel()
    a.bind(callbackFailed)
    a.bind(epilogue)
    if saved == .all { a.bind(frameExit) }
    a.load(.rsp, r.context, JITContext.savedStack)
    if saved != .all { a.bind(frameExit) }
    a.store(r.counter, r.context, JITContext.executed)
    if saved != .all {
      a.compare(memory: r.context, JITContext.tailCalls, immediate: 0)
      a.jump(.notEqual, to: entryFrame)
    }
    emitRestore(saved, reloading: false)
    if saved != .all {
      a.bind(entryFrame)
      emitRestore(.all)
    }
    emitWindowMisses()
    emitPacketRoutines()
    emitEdges()
    for stub in stubs { emit(stub) }
    return body
  }

  /// Back to the frame `frame` describes (from the stack pointer saved by
  /// its prologue), and return.
  private mutating func emitRestore(_ frame: CalleeSaved, reloading: Bool = true) {
    if reloading { a.load(.rsp, JITRegisters.context, JITContext.savedStack) }
    if frame.padding > 0 {
      a.arithmetic(digit: 0, .rsp, immediate: frame.padding, wide: true)
    }
    for reg in frame.registers.reversed() { a.pop(reg) }
    a.ret()
  }

  /// The slots, in order, with the current ``slotLabels``.
  private mutating func emitBody() {
    var index = 0
    checkedSpans = CheckedSpans()
    arenaInAddress = false
    while index < slotCount {
      if provenBody ? targets[index] : leaders[index] {
        enter(slotLabels[index], at: index)
        checkedSpans = CheckedSpans()
        arenaInAddress = false
      }
      if loopHeads.contains(index) { a.align(to: 32) }
      a.bind(slotLabels[index])
      pending += 1
      let slot = slots[index]
      if provenBody, let site = packetRanges.guardSites[index] {
        emitPacketGuard(site, index)
        arenaInAddress = false
      }
      if provenBody, let site = records.guardSites[index] {
        emitRecordGuard(site, index)
        arenaInAddress = false
      }
      emit(slot, at: index)
      fallsThrough = slot.operation != .ja && slot.operation != .exit && slot.operation != .trap
      checkedSpans.forget(after: slot)
      if Self.mayWriteAddress(slot) { arenaInAddress = false }
      if slot.operation == .loadImmediate64, index + 1 < slotCount {
        a.bind(slotLabels[index + 1])
        index += 1
      }
      index += 1
    }
  }

  /// Whether the code of `slot` may write R11 (beyond an access's own
  /// check, which clears ``arenaInAddress`` itself): calls, atomics and
  /// legacy packet loads, divisions (the divisor) and shifts by a register
  /// (RCX is saved there).
  static func mayWriteAddress(_ slot: Slot) -> Bool {
    switch slot.operation.family {
    case .byteOrder, .loadImmediate64, .load, .store, .jump: return false
    case .arithmetic:
      switch slot.operation {
      case .lsh64X, .rsh64X, .arsh64X, .lsh32X, .rsh32X, .arsh32X: return true
      default: return slot.operation.division != nil
      }
    default: return true
    }
  }

  /// A label for an out-of-line exit with `status` at instruction `index`.
  mutating func stub(
    _ status: JITContext.Status, _ index: Int, size: Int = 0, write: Bool = false
  ) -> CodeLabel {
    let label = a.makeLabel()
    stubs.append(
      FaultStub(
        label: label, status: status, index: index, pending: pending, size: size, write: write))
    return label
  }

  private mutating func emit(_ stub: FaultStub) {
    let r = JITRegisters.self
    a.bind(stub.label)
    if stub.pending != 0 {
      a.arithmetic(digit: 0, r.counter, immediate: Int32(stub.pending), wide: true)
    }
    a.store(immediate: Int32(stub.index), r.context, JITContext.faultIndex)
    if stub.status == .memoryFault {
      a.store(r.address, r.context, JITContext.faultAddress)
      a.store(
        immediate: Int32(stub.size | (stub.write ? 256 : 0)), r.context, JITContext.faultInfo)
    }
    a.store(immediate: stub.status.rawValue, r.context, JITContext.status)
    a.jump(to: epilogue)
  }

  /// Leaves with the budget error unless the counter is below the budget.
  mutating func checkBudget(_ index: Int) {
    let label = stub(.budgetExceeded, index)
    a.compare(JITRegisters.counter, memory: JITRegisters.context, JITContext.budget)
    a.jump(.aboveOrEqual, to: label)
  }

  private mutating func emit(_ slot: Slot, at index: Int) {
    switch slot.operation.family {
    case .arithmetic, .byteOrder:
      emitArithmetic(slot)
    case .jump:
      emitJump(slot, at: index)
    case .call:
      emitCall(slot, at: index)
    case .loadImmediate64:
      a.move(JITRegisters.bpf(slot.dst), immediate: UInt64(bitPattern: slot.immediate))
    case .trap:
      flush()
      a.store(immediate: slot.offset, JITRegisters.context, JITContext.faultIndex)
      a.store(
        immediate: JITContext.Status.fellOffEnd.rawValue, JITRegisters.context,
        JITContext.status)
      a.jump(to: epilogue)
    case .load, .store, .atomic, .packetLoad:
      emitMemory(slot, at: index)
    }
  }
}
