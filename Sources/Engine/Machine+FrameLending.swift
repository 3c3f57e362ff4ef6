import BPF

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
  /// ``AddressSpace/openPages(from:to:)`` does. A page that was closed has
  /// no window (a window is filled only after its page allowed an access,
  /// and a close empties the windows on its pages); the windows on a page
  /// that was open with another range are emptied. Returns whether every
  /// page was closed before (then each holds this range's limit until
  /// another lending or close writes it).
  @inline(__always) @discardableResult
  func lendPages(from start: UInt64, to end: UInt64) -> Bool {
    let limit = (end &+ UInt64(AddressSpace.pageSize - 1)) & ~UInt64(AddressSpace.pageSize - 1)
    guard addressSpace.setLimits(from: start, to: limit, UInt32(truncatingIfNeeded: limit))
    else { return true }
    forgetWindows(from: start, to: limit)
    return false
  }

  /// Closes the pages from `start` up to `end` again, as
  /// ``AddressSpace/closePages(from:to:)`` does.
  @inline(__always)
  func takeBackPages(from start: UInt64, to end: UInt64) {
    _ = addressSpace.setLimits(from: start, to: end, 0)
    forgetWindows(from: start, to: end)
  }

  /// Closes the pages of every frame in `frames` again, and empties the
  /// windows once for the range from the lowest frame to the highest (a
  /// window there on a page no frame has is emptied too: a refill, never
  /// an access let through).
  @inline(__always)
  func takeBackPages(of frames: UnsafePointer<LiveFrameRunner.Frame>, count: Int) {
    guard count > 0 else { return }
    var (low, high) = (UInt64.max, UInt64(0))
    for index in 0..<count {
      let (start, end) = (UInt64(frames[index].hardStart), UInt64(frames[index].hardEnd))
      _ = addressSpace.setLimits(from: start, to: end, 0)
      low = min(low, start)
      high = max(high, end)
    }
    forgetWindows(from: low, to: high)
  }

  /// Empties every access window of the JIT block whose page lies from
  /// `start`'s page up to `end`: each region kind's by name, with no
  /// array made per call (``covers(_:)`` makes a new kind a compile error
  /// here).
  @inline(__always)
  func forgetWindows(from start: UInt64, to end: UInt64) {
    let first = start & ~UInt64(AddressSpace.pageSize - 1)
    forgetWindow(.other, first, end)
    forgetWindow(.context, first, end)
    forgetWindow(.packet, first, end)
    forgetWindow(.otherStore, first, end)
    forgetWindow(.packetStore, first, end)
  }

  /// Whether ``forgetWindows(from:to:)`` empties `region`'s window: every
  /// region kind, as the switch must name them all.
  static func covers(_ region: AccessWindow.Region) -> Bool {
    switch region {
    case .other, .context, .packet, .otherStore, .packetStore: true
    }
  }

  @inline(__always)
  private func forgetWindow(_ region: AccessWindow.Region, _ first: UInt64, _ end: UInt64) {
    let context = jit.context
    let low = context.load(fromByteOffset: Int(region.low), as: UInt64.self)
    guard low >= first, low < end else { return }
    context.storeBytes(of: 0, toByteOffset: Int(region.span(size: 1)), as: UInt64.self)
    context.storeBytes(of: 0, toByteOffset: Int(region.span(size: 2)), as: UInt64.self)
    context.storeBytes(of: 0, toByteOffset: Int(region.span(size: 4)), as: UInt64.self)
    context.storeBytes(of: 0, toByteOffset: Int(region.span(size: 8)), as: UInt64.self)
  }
}

extension AddressSpace {
  /// Sets the entry of every page from `start`'s page up to `end` to
  /// `limit` in both page tables (a frame is open to loads and stores
  /// alike), without bumping the generation, and says whether any of them
  /// was open before: only for ``Machine``'s lending, which empties the
  /// windows on those pages itself (the store windows too).
  @inline(__always)
  func setLimits(from start: UInt64, to end: UInt64, _ limit: UInt32) -> Bool {
    var page = Int(start >> 12)
    var wasOpen = false
    while UInt64(page) << 12 < end {
      wasOpen = wasOpen || limits[page] != 0
      limits[page] = limit
      writeLimits[page] = limit
      page += 1
    }
    return wasOpen
  }
}

/// The record a call may trust (docs/DESIGN.md, "Trusted context
/// records"): the JIT's proven copy loads `data` and `data_end` through
/// it with no check and proves packet ranges against them with no packet
/// guard, so every entry names it only after finding what every guard
/// would find.
extension Machine {
  /// `r1` when the code may trust it as its context for one call, else 0:
  /// a registered record slot (``PacketFrameTable``), open to loads,
  /// whose `data` and
  /// `data_end` fields are its frame's bookkeeping, inside the frame, and
  /// whose frame, `data_hard_start` to `data_hard_end`, lies in pages open
  /// to loads and stores up to at least `data_hard_end` in both page
  /// tables. The packet helpers, Swift and inline, move the bounds only
  /// inside the frame and write fields and bookkeeping together, and only
  /// the runners change the page tables, between calls: so for the whole
  /// call, whatever `data` and `data_end` the program reads through it,
  /// the region of `data`'s page reaches `data_end` (the packet guard's
  /// test), and the record itself stays mapped.
  @inline(__always)
  func trustedRecord(_ r1: UInt64) -> UInt64 {
    guard let bookkeeping = packetFrames.frame(at: r1) else { return 0 }
    let frame = bookkeeping.pointee
    let space = addressSpace
    guard frame.isTrustworthy(limits: space.limits, writeLimits: space.writeLimits),
      let fields = addressSpace.pointer(r1, count: Self.trustedFieldBytes)
    else { return 0 }
    let layout = XDPContextLayout.engine
    guard
      fields.loadUnaligned(fromByteOffset: Int(layout.data), as: UInt32.self)
        == UInt32(truncatingIfNeeded: frame.data),
      fields.loadUnaligned(fromByteOffset: Int(layout.dataEnd), as: UInt32.self)
        == UInt32(truncatingIfNeeded: frame.end)
    else { return 0 }
    // The record itself readable to programs (its loads go unchecked).
    let recordEnd = r1 &+ UInt64(layout.stride)
    guard r1 >> 12 < UInt64(AddressSpace.tableEntries),
      UInt64(space.limits[Int(r1 >> 12)]) >= recordEnd
    else { return 0 }
    return r1
  }

  /// The record bytes ``trustedRecord(_:)`` reads (`data`, `data_end`).
  static let trustedFieldBytes = 8

  /// Whether the code may trust `record` as R1 now (``trustedRecord(_:)``):
  /// a driver of its own that calls native code (``withNativeRun(_:)``)
  /// stores a record in ``NativeCode/trustedRecordField`` per call only
  /// after this said yes for it, with nothing run in between that could
  /// change the page tables.
  public func trusts(record: UInt64) -> Bool {
    trustedRecord(record) != 0
  }
}

extension PacketFrame {
  /// Whether a record over this frame may be trusted, as far as the frame
  /// goes (``Machine/trustedRecord(_:)``, ``ContextRecords/trusted(_:)``):
  /// the packet inside the frame, the frame in the 32-bit space, and its
  /// pages, `hardStart` to `hardEnd`, open to loads and stores up to at
  /// least `hardEnd` in both page tables (what a packet guard would find at
  /// any bounds the packet helpers can move the packet to).
  @inline(__always)
  func isTrustworthy(
    limits: UnsafeMutablePointer<UInt32>, writeLimits: UnsafeMutablePointer<UInt32>
  ) -> Bool {
    guard hardStart <= data, data <= end, end <= hardEnd, hardEnd <= UInt64(UInt32.max)
    else { return false }
    // hardEnd fits 32 bits, so every page lies in the tables.
    var page = Int(hardStart >> 12)
    let last = Int((max(hardEnd, hardStart &+ 1) &- 1) >> 12)
    while page <= last {
      guard UInt64(limits[page]) >= hardEnd, UInt64(writeLimits[page]) >= hardEnd
      else { return false }
      page &+= 1
    }
    return true
  }
}
