/// The JIT's cheap memory check: a window of addresses that the address
/// space's page table was last seen to allow, kept in the context block.
///
/// The page table (``AddressSpace``) gives each page the end of the
/// reachable range it belongs to; an access is allowed when its first
/// byte's page is below the page count and its last byte is below that
/// page's end. The window caches one page's answer: after a walk for an
/// access starting in page P (end E), it holds `low` = P's first address,
/// `host` = the arena plus `low`, and for each access size S (1, 2, 4, 8)
/// `span[S]` = how many starts from `low` on end by E without starting
/// past P: max(0, min(E - S, P's last address) - low + 1). A later access
/// of S bytes at A with `A - low < span[S]` (unsigned, so an A below `low`
/// wraps and fails) starts in P and ends by E, so the walk would allow it:
/// one subtraction and one compare, and its host address is `host + (A -
/// low)`. Any other access walks the table as before (a fault is the
/// interpreter's error) and, when allowed, refills the window from its
/// own page.
///
/// The window is emptied (every span 0: no access passes) whenever the
/// engine refreshes the block (``JITRuntime/refresh(_:)``: when a run or a
/// series is armed, and after a helper, the only place where the page
/// table can change under a run), and when the code is entered after the
/// page table changed since the window was filled: the refill records the
/// space's ``AddressSpace/generation``, which every change of the table
/// bumps, and the prologue keeps the window only while it is unchanged (a
/// runner opens and closes frames' pages between the runs of a series; a
/// driver loop calling the same code over records keeps its page).
enum AccessWindow {
  /// The offset in the block of `span` for an access of `size` bytes.
  static func span(size: Int) -> Int32 {
    JITContext.windowSpan + 8 * Int32(size.trailingZeroBitCount)
  }

  /// Empties the window of the block at `context`.
  static func empty(_ context: UnsafeMutableRawPointer) {
    for size in [1, 2, 4, 8] {
      context.storeBytes(of: UInt64(0), toByteOffset: Int(span(size: size)), as: UInt64.self)
    }
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
  /// address), or jumps to `fault` with the BPF address in R11: the
  /// window's subtraction and compare inline, the walk out of line.
  mutating func emitWindowCheck(size: Int, fault: CodeLabel) {
    let r = JITRegisters.self
    let (miss, resume) = (a.makeLabel(), a.makeLabel())
    a.memoryForm(
      [0x2b], wide: true, reg: r.address.number, base: r.context,
      displacement: JITContext.windowLow)
    a.compare(r.address, memory: r.context, AccessWindow.span(size: size))
    a.jump(.aboveOrEqual, to: miss)
    a.add(r.address, memory: r.context, JITContext.windowHost)
    a.bind(resume)
    windowMisses.append(WindowMiss(label: miss, resume: resume, fault: fault, size: size))
  }

  /// Empties the window unless the page table is as it was filled (the
  /// prologue); clobbers R10.
  mutating func emitWindowReset() {
    let r = JITRegisters.self
    let keep = a.makeLabel()
    a.load(r.scratch, r.context, JITContext.spaceGeneration)
    a.load(r.scratch, r.scratch, 0)
    a.compare(r.scratch, memory: r.context, JITContext.windowGeneration)
    a.jump(.equal, to: keep)
    for size in [1, 2, 4, 8] {
      a.store(immediate: 0, r.context, AccessWindow.span(size: size))
    }
    a.bind(keep)
  }

  /// The out-of-line walks and the refill routine they share.
  mutating func emitWindowMisses() {
    guard !windowMisses.isEmpty else { return }
    let r = JITRegisters.self
    let refill = a.makeLabel()
    for miss in windowMisses {
      a.bind(miss.label)
      a.add(r.address, memory: r.context, JITContext.windowLow)
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
  /// address); clobbers R10 only.
  private mutating func emitWindowRefill(_ refill: CodeLabel) {
    let r = JITRegisters.self
    let reach = JITContext.windowScratch
    a.bind(refill)
    a.load(r.scratch, r.context, JITContext.spaceGeneration)
    a.load(r.scratch, r.scratch, 0)
    a.store(r.scratch, r.context, JITContext.windowGeneration)
    // reach = E - low, with E the page's range end (above R11, as the
    // access was allowed) and low the page's first address.
    a.move(r.scratch, r.address)
    a.shift(digit: 5, r.scratch, by: 12, wide: true)
    a.shift(digit: 4, r.scratch, by: 2, wide: true)
    a.add(r.scratch, memory: r.context, JITContext.limits)
    a.memoryForm([0x8b], wide: false, reg: r.scratch.number, base: r.scratch, displacement: 0)
    a.store(r.scratch, r.context, reach)
    a.move(r.scratch, r.address)
    a.arithmetic(digit: 4, r.scratch, immediate: -4096, wide: true)
    a.store(r.scratch, r.context, JITContext.windowLow)
    a.memoryForm([0x29], wide: true, reg: r.scratch.number, base: r.context, displacement: reach)
    a.add(r.scratch, memory: r.context, JITContext.arena)
    a.store(r.scratch, r.context, JITContext.windowHost)
    // span[S] = max(0, min(reach - S + 1, 4096)).
    for size in [1, 2, 4, 8] {
      let (capped, positive) = (a.makeLabel(), a.makeLabel())
      a.load(r.scratch, r.context, reach)
      a.arithmetic(digit: 5, r.scratch, immediate: Int32(size - 1), wide: true)
      a.arithmetic(digit: 7, r.scratch, immediate: 4096, wide: true)
      a.jump(.lessOrEqual, to: capped)
      a.move(r.scratch, immediate: 4096)
      a.bind(capped)
      a.test(r.scratch, r.scratch, wide: true)
      a.jump(.greater, to: positive)
      a.move(r.scratch, immediate: 0)
      a.bind(positive)
      a.store(r.scratch, r.context, AccessWindow.span(size: size))
    }
    a.ret()
  }
}
