/// Frames lent to one call at a time, without emptying the JIT's access
/// windows on the pages the lending does not change.
///
/// ``AddressSpace/openPages(from:to:)`` and
/// ``AddressSpace/closePages(from:to:)`` bump the space's generation, so
/// the JIT's prologue empties every access window at the next call: the
/// context's, the stack's and the map values' too, whose pages did not
/// change, and each costs a table walk and a refill again. A runner that
/// lends each frame of a batch to one call (the per-packet form) would pay
/// that once a frame.
///
/// A window caches one page's answer, and that answer depends on the page
/// table's entry for that page only (an access starting in page P is
/// allowed when it ends by `limits[P]`; ``AccessWindow``). So a change of
/// some pages' entries leaves every window on another page true. These
/// methods change the entries of the pages from `start` to `end` and empty
/// the windows of the machine's JIT block (the only block that caches this
/// space's table) that lie on those pages, whichever region kind holds
/// them, and leave the generation as it is: a window the lent frame's call
/// filled from the frame is gone before the next call, the others stay.
/// The interpreter walks the table on every access and caches nothing.
extension Machine {
  /// Opens the pages from `start` up to `end` (rounded up to a page) to
  /// programs as one reachable range, as
  /// ``AddressSpace/openPages(from:to:)`` does.
  @inline(__always)
  func lendPages(from start: UInt64, to end: UInt64) {
    let limit = (end &+ UInt64(AddressSpace.pageSize - 1)) & ~UInt64(AddressSpace.pageSize - 1)
    addressSpace.setLimits(from: start, to: limit, UInt32(truncatingIfNeeded: limit))
    forgetWindows(from: start, to: limit)
  }

  /// Closes the pages from `start` up to `end` again, as
  /// ``AddressSpace/closePages(from:to:)`` does.
  @inline(__always)
  func takeBackPages(from start: UInt64, to end: UInt64) {
    addressSpace.setLimits(from: start, to: end, 0)
    forgetWindows(from: start, to: end)
  }

  /// Empties every access window of the JIT block whose page lies from
  /// `start`'s page up to `end`.
  @inline(__always)
  private func forgetWindows(from start: UInt64, to end: UInt64) {
    let context = jit.context
    let first = start & ~UInt64(AddressSpace.pageSize - 1)
    for region in AccessWindow.Region.allCases {
      let low = context.load(fromByteOffset: Int(region.low), as: UInt64.self)
      guard low >= first, low < end else { continue }
      context.storeBytes(of: 0, toByteOffset: Int(region.span(size: 1)), as: UInt64.self)
      context.storeBytes(of: 0, toByteOffset: Int(region.span(size: 2)), as: UInt64.self)
      context.storeBytes(of: 0, toByteOffset: Int(region.span(size: 4)), as: UInt64.self)
      context.storeBytes(of: 0, toByteOffset: Int(region.span(size: 8)), as: UInt64.self)
    }
  }
}

extension AddressSpace {
  /// Sets the page table's entry of every page from `start`'s page up to
  /// `end` to `limit`, without bumping the generation: only for
  /// ``Machine/lendPages(from:to:)`` and ``Machine/takeBackPages(from:to:)``,
  /// which empty the windows on those pages themselves.
  @inline(__always)
  fileprivate func setLimits(from start: UInt64, to end: UInt64, _ limit: UInt32) {
    var page = Int(start >> 12)
    while UInt64(page) << 12 < end {
      limits[page] = limit
      page += 1
    }
  }
}
