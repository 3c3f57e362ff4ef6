/// The code of the access windows' checks (``AccessWindow``): the
/// inline compare, the out-of-line walk and the refill.
extension JITCompiler {
  /// An access whose window check failed: the walk, then the refill.
  struct WindowMiss {
    var label: CodeLabel
    var resume: CodeLabel
    var fault: CodeLabel
    var size: Int
    var region: AccessWindow.Region
    /// A store: the walk reads the write table, and allows a record's
    /// writable tail.
    var write: Bool
    /// Where a store through the context whose offset in its record is
    /// not in the writable tail walks from (R11 the BPF address).
    var walk: CodeLabel?
  }

  /// The window of an access through BPF register `base` before slot
  /// `index` (``AccessWindow/Plan``).
  func windowRegion(of base: UInt8, at index: Int, write: Bool = false) -> AccessWindow.Region {
    windows.region(of: base, at: index, write: write, packetRanges)
  }

  /// Leaves in R11 the host address of `size` bytes at R11 (a BPF
  /// address), or jumps to `fault` with the BPF address in R11: the
  /// window's subtraction and compare inline, the walk out of line.
  /// A store (`write`) through the context's window first checks that
  /// it lies in a record's writable tail (else it walks, which allows
  /// it on any other page the write table allows).
  mutating func emitWindowCheck(
    size: Int, fault: CodeLabel, region: AccessWindow.Region = .other, write: Bool = false
  ) {
    let r = JITRegisters.self
    var region = windows.used.contains(region) ? region : (write ? .otherStore : .other)
    if write, !region.isStore, region != .context { region = .otherStore }
    let (miss, resume) = (a.makeLabel(), a.makeLabel())
    var walk: CodeLabel? = nil
    if write, region == .context {
      let tail = a.makeLabel()
      walk = tail
      let stride = Int32(AddressSpace.recordStride)
      a.move(r.scratch, r.address)
      a.arithmetic(digit: 4, r.scratch, immediate: stride - 1, wide: true)
      a.arithmetic(
        digit: 7, r.scratch, immediate: Int32(AddressSpace.recordWritableStart), wide: true)
      a.jump(.below, to: tail)
      a.arithmetic(digit: 7, r.scratch, immediate: stride - Int32(size), wide: true)
      a.jump(.above, to: tail)
    }
    a.memoryForm(
      [0x2b], wide: true, reg: r.address.number, base: r.context, displacement: region.low)
    a.compare(r.address, memory: r.context, region.span(size: size))
    a.jump(.aboveOrEqual, to: miss)
    a.add(r.address, memory: r.context, region.host)
    a.bind(resume)
    windowMisses.append(
      WindowMiss(
        label: miss, resume: resume, fault: fault, size: size, region: region, write: write,
        walk: walk))
  }

  /// Plans the windows and, unless the page table is as it was when they
  /// were filled, empties every one of them (the prologue); clobbers R10.
  mutating func emitWindowReset() {
    windows = AccessWindow.Plan(slots: slots, count: slotCount, packetRanges: packetRanges)
    let r = JITRegisters.self
    let keep = a.makeLabel()
    a.load(r.scratch, r.context, JITContext.spaceGeneration)
    a.load(r.scratch, r.scratch, 0)
    a.compare(r.scratch, memory: r.context, JITContext.windowGeneration)
    a.jump(.equal, to: keep)
    for region in AccessWindow.Region.allCases {
      for size in [1, 2, 4, 8] {
        a.store(immediate: 0, r.context, region.span(size: size))
      }
    }
    // Empty windows are windows of this generation: the next call keeps
    // them. Without this store a program that refills none (one with no
    // checked access: an empty program, a tail call's target that only
    // returns) emptied all of them again on every call after the space
    // changed once.
    a.store(r.scratch, r.context, JITContext.windowGeneration)
    a.bind(keep)
  }

  /// The out-of-line walks and the refill routines they share.
  mutating func emitWindowMisses() {
    guard !windowMisses.isEmpty else { return }
    let r = JITRegisters.self
    var refills: [AccessWindow.Region: CodeLabel] = [:]
    for miss in windowMisses {
      let refill = refills[miss.region] ?? a.makeLabel()
      refills[miss.region] = refill
      a.bind(miss.label)
      a.add(r.address, memory: r.context, miss.region.low)
      if let walk = miss.walk { a.bind(walk) }
      a.move(r.scratch, r.address)
      a.shift(digit: 5, r.scratch, by: 12, wide: true)
      a.compare(r.scratch, memory: r.context, JITContext.pages)
      a.jump(.aboveOrEqual, to: miss.fault)
      a.shift(digit: 4, r.scratch, by: 2, wide: true)
      a.add(
        r.scratch, memory: r.context, miss.write ? JITContext.writeLimits : JITContext.limits)
      a.memoryForm(
        [0x8b], wide: false, reg: r.scratch.number, base: r.scratch, displacement: 0)
      let tail = a.makeLabel()
      if miss.write {
        a.arithmetic(digit: 7, r.scratch, immediate: Int32(AddressSpace.recordPage), wide: true)
        a.jump(.equal, to: tail)
      }
      a.arithmetic(digit: 5, r.scratch, immediate: Int32(miss.size), wide: true)
      a.arithmetic(0x39, r.address, r.scratch, wide: true)
      a.jump(.greater, to: miss.fault)
      a.call(refill)
      a.add(r.address, memory: r.context, JITContext.arena)
      a.jump(to: miss.resume)
      guard miss.write else { continue }
      // A record page: the store must lie in one record's writable tail
      // and below the records' reachable end (the read table's).
      let stride = Int32(AddressSpace.recordStride)
      a.bind(tail)
      a.move(r.scratch, r.address)
      a.arithmetic(digit: 4, r.scratch, immediate: stride - 1, wide: true)
      a.arithmetic(
        digit: 7, r.scratch, immediate: Int32(AddressSpace.recordWritableStart), wide: true)
      a.jump(.below, to: miss.fault)
      a.arithmetic(digit: 7, r.scratch, immediate: stride - Int32(miss.size), wide: true)
      a.jump(.above, to: miss.fault)
      a.move(r.scratch, r.address)
      a.shift(digit: 5, r.scratch, by: 12, wide: true)
      a.shift(digit: 4, r.scratch, by: 2, wide: true)
      a.add(r.scratch, memory: r.context, JITContext.limits)
      a.memoryForm(
        [0x8b], wide: false, reg: r.scratch.number, base: r.scratch, displacement: 0)
      a.arithmetic(digit: 5, r.scratch, immediate: Int32(miss.size), wide: true)
      a.arithmetic(0x39, r.address, r.scratch, wide: true)
      a.jump(.greater, to: miss.fault)
      // The context's window is a load window, the page readable: kept
      // for the next record's loads and tail stores.
      if !miss.region.isStore { a.call(refill) }
      a.add(r.address, memory: r.context, JITContext.arena)
      a.jump(to: miss.resume)
    }
    for region in AccessWindow.Region.allCases {
      if let refill = refills[region] { emitWindowRefill(refill, region) }
    }
  }

  /// Refills `region`'s window from the page of R11 (an allowed access's
  /// address); clobbers R10 only.
  private mutating func emitWindowRefill(_ refill: CodeLabel, _ region: AccessWindow.Region) {
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
    a.add(r.scratch, memory: r.context, region.table)
    a.memoryForm([0x8b], wide: false, reg: r.scratch.number, base: r.scratch, displacement: 0)
    a.store(r.scratch, r.context, reach)
    a.move(r.scratch, r.address)
    a.arithmetic(digit: 4, r.scratch, immediate: -4096, wide: true)
    a.store(r.scratch, r.context, region.low)
    a.memoryForm([0x29], wide: true, reg: r.scratch.number, base: r.context, displacement: reach)
    a.add(r.scratch, memory: r.context, JITContext.arena)
    a.store(r.scratch, r.context, region.host)
    // A range that runs on past the page's last 8-byte start (the usual
    // case): every span is the whole page.
    let partial = a.makeLabel()
    a.compare(memory: r.context, reach, immediate: 4096 + 7)
    a.jump(.less, to: partial)
    for size in [1, 2, 4, 8] { a.store(immediate: 4096, r.context, region.span(size: size)) }
    a.ret()
    // span[S] = max(0, min(reach - S + 1, 4096)).
    a.bind(partial)
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
      a.store(r.scratch, r.context, region.span(size: size))
    }
    a.ret()
  }
}
