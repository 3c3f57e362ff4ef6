/// The JIT's cheap memory check: a window of addresses that the address
/// space's page table was last seen to allow, kept in the context block.
///
/// The page table (``AddressSpace``) gives each page the end of the
/// reachable range it belongs to; an access is allowed when its first
/// byte's page is below the page count and its last byte is below that
/// page's end. The window caches one page's answer: after a walk for an
/// access starting in page P (end E), it holds `low` = P's first address
/// and, for each access size S (1, 2, 4, 8), `last[S]` = min(E - S, P's
/// last address). A later access of S bytes at A with `low <= A <=
/// last[S]` starts in P and ends by E, so the walk would allow it: two
/// compares against the block instead of the walk's dependent loads. Any
/// other access walks the table as before (a fault is the interpreter's
/// error) and, when allowed, refills the window from its own page.
///
/// The window is emptied (`low` = UInt64.max: no address passes both
/// compares) when the code is entered and whenever the engine refreshes
/// the block after a helper (``JITRuntime/refresh(_:)``), the only
/// places where the page table can change under a run.
enum AccessWindow {
  static let empty = UInt64.max

  /// The offset in the block of `last` for an access of `size` bytes.
  static func last(size: Int) -> Int32 {
    JITContext.windowLast + 8 * Int32(size.trailingZeroBitCount)
  }
}

extension JITCompiler {
  /// An access whose window check failed: the walk, then the refill.
  struct WindowMiss {
    var label: CodeLabel
    var resume: CodeLabel
    var fault: CodeLabel
    var size: Int
  }

  /// Leaves in R11 the host address of `size` bytes at R11 (a BPF
  /// address), or jumps to `fault`: the window's compares inline, the
  /// walk out of line.
  mutating func emitWindowCheck(size: Int, fault: CodeLabel) {
    let r = JITRegisters.self
    let (miss, resume) = (a.makeLabel(), a.makeLabel())
    a.compare(r.address, memory: r.context, JITContext.windowLow)
    a.jump(.below, to: miss)
    a.compare(r.address, memory: r.context, AccessWindow.last(size: size))
    a.jump(.above, to: miss)
    a.add(r.address, memory: r.context, JITContext.arena)
    a.bind(resume)
    windowMisses.append(WindowMiss(label: miss, resume: resume, fault: fault, size: size))
  }

  /// Empties the window (the prologue).
  mutating func emitWindowReset() {
    a.store(immediate: -1, JITRegisters.context, JITContext.windowLow)
  }

  /// The out-of-line walks and the refill routine they share.
  mutating func emitWindowMisses() {
    guard !windowMisses.isEmpty else { return }
    let r = JITRegisters.self
    let refill = a.makeLabel()
    for miss in windowMisses {
      a.bind(miss.label)
      a.move(r.scratch, r.address)
      a.shift(digit: 5, r.scratch, by: 12, wide: true)
      a.compare(r.scratch, memory: r.context, JITContext.pages)
      a.jump(.aboveOrEqual, to: miss.fault)
      a.shift(digit: 4, r.scratch, by: 2, wide: true)
      a.add(r.scratch, memory: r.context, JITContext.limits)
      a.memoryForm(
        [0x8b], wide: false, reg: r.scratch.number, base: r.scratch, displacement: 0)
      a.arithmetic(digit: 5, r.scratch, immediate: Int32(miss.size), wide: true)
      a.arithmetic(0x39, r.address, r.scratch, wide: true)
      a.jump(.greater, to: miss.fault)
      a.call(refill)
      a.add(r.address, memory: r.context, JITContext.arena)
      a.jump(to: miss.resume)
    }
    emitWindowRefill(refill)
  }

  /// Refills the window from the page of R11 (an allowed access's
  /// address); clobbers R10 only. A page whose range ends less than 8
  /// bytes past its start leaves the window as it was.
  private mutating func emitWindowRefill(_ refill: CodeLabel) {
    let r = JITRegisters.self
    let (end, start, pageLast) = (
      JITContext.windowScratch, JITContext.windowScratch + 8, JITContext.windowScratch + 16
    )
    let done = a.makeLabel()
    a.bind(refill)
    a.move(r.scratch, r.address)
    a.shift(digit: 5, r.scratch, by: 12, wide: true)
    a.shift(digit: 4, r.scratch, by: 2, wide: true)
    a.add(r.scratch, memory: r.context, JITContext.limits)
    a.memoryForm([0x8b], wide: false, reg: r.scratch.number, base: r.scratch, displacement: 0)
    a.store(r.scratch, r.context, end)
    a.move(r.scratch, r.address)
    a.arithmetic(digit: 4, r.scratch, immediate: -4096, wide: true)
    a.store(r.scratch, r.context, start)
    a.arithmetic(digit: 0, r.scratch, immediate: 4095, wide: true)
    a.store(r.scratch, r.context, pageLast)
    // end - 8 < start (signed: both are below 2^32): no refill.
    a.load(r.scratch, r.context, end)
    a.arithmetic(digit: 5, r.scratch, immediate: 8, wide: true)
    a.compare(r.scratch, memory: r.context, start)
    a.jump(.less, to: done)
    for size in [1, 2, 4, 8] {
      let keep = a.makeLabel()
      a.load(r.scratch, r.context, end)
      a.arithmetic(digit: 5, r.scratch, immediate: Int32(size), wide: true)
      a.compare(r.scratch, memory: r.context, pageLast)
      a.jump(.belowOrEqual, to: keep)
      a.load(r.scratch, r.context, pageLast)
      a.bind(keep)
      a.store(r.scratch, r.context, AccessWindow.last(size: size))
    }
    a.load(r.scratch, r.context, start)
    a.store(r.scratch, r.context, JITContext.windowLow)
    a.bind(done)
    a.ret()
  }
}
