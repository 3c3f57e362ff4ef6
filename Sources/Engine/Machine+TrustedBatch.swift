import BPF

/// The batch a call may trust (docs/DESIGN.md, "Trusted context records"):
/// the batch form's cursor walks the records from R1 on, R2 of them, and
/// the JIT's proven copy loads `data` and `data_end` through the cursor
/// with no check and proves packet ranges against them with no packet
/// guard, so an entry names a batch (its first record and its count) only
/// after testing every record of it as ``trustedRecord(_:)`` tests one.
extension Machine {
  /// The most records a batch is tested for (a runner's records are at
  /// most 64; a larger R2 names no batch).
  static let trustedBatchLimit: UInt64 = 4096

  /// `r2` when every record of the batch `[r1, r1 + r2 × stride)` passes
  /// ``trustedRecord(_:)`` now (`r1` itself included, `r2` at least 1 and
  /// at most ``trustedBatchLimit``), else 0: the count the block names
  /// beside `r1` (``JITContext/trustedCount``), which a batch form's code
  /// compares R2 with at its start. What holds for one trusted record for
  /// the whole call holds for each: the packet helpers move a record's
  /// bounds only inside its frame and write fields and bookkeeping
  /// together, programs cannot write the records' `struct xdp_md`, tail
  /// calls are refused in a batch run, and only runners change the page
  /// tables, between calls.
  func trustedCount(_ r1: UInt64, _ r2: UInt64) -> UInt64 {
    guard r2 >= 1, r2 <= Self.trustedBatchLimit else { return 0 }
    let stride = UInt64(XDPContextLayout.engine.stride)
    var record = r1
    for _ in 0..<r2 {
      guard trustedRecord(record) == record, record != 0 else { return 0 }
      record &+= stride
    }
    return r2
  }

  /// Whether the code may trust the `count` records from `record` on as
  /// one batch now (``trustedCount(_:_:)``; a count of 0 names no batch:
  /// the record alone, ``trusts(record:)``): a driver of its own stores
  /// `count` in ``NativeCode/trustedCountField`` only after this said yes,
  /// with nothing run in between that could change the page tables.
  public func trusts(record: UInt64, count: UInt64) -> Bool {
    count == 0 ? trusts(record: record) : trustedCount(record, count) == count
  }
}

extension ContextRecords {
  /// `count` when every one of the first `count` records passes
  /// ``trusted(_:)`` now (at least one, at most the records there are),
  /// else 0: the batch a runner's batch call names beside record 0.
  ///
  /// The first `lent` records' frames the runner has just lent from pages
  /// that were all closed, each frame inside its pages
  /// (``LiveFrameRunner/Frame/fitsItsPages``): no two of them share a
  /// page (the later lending would have found it open), so each page
  /// holds its frame's limit, rounded up past `data_hard_end`, in both
  /// tables, which is what ``trusted(_:)`` would find; for them only the
  /// records' page is tested, once.
  @inline(__always) func trustedCount(_ count: Int, lent: Int = 0) -> UInt64 {
    guard count >= 1, count <= self.count else { return 0 }
    let end = start &+ UInt64(count) &* UInt64(layout.stride)
    // The records lie in one region: its first page's limit is its end.
    guard UInt64(limits[Int(start >> 12)]) >= end else { return 0 }
    for slot in min(lent, count)..<count where trusted(slot) == 0 { return 0 }
    return UInt64(count)
  }
}

extension ContextRecords {
  /// Record `slot`'s address when its frame was just lent from closed
  /// pages and lies in them (``LiveFrameRunner/Frame/fitsItsPages``), so
  /// that only the record's own page is left for ``trusted(_:)``'s test;
  /// else 0.
  @inline(__always) func trustedLent(_ slot: Int) -> UInt64 {
    let record = address(slot)
    guard UInt64(limits[Int(record >> 12)]) >= record &+ UInt64(layout.stride) else { return 0 }
    return record
  }
}

extension LiveFrameRunner.Frame {
  /// Whether the packet lies in the frame and lending the frame opens
  /// pages up to at least `data_hard_end` (the rounded-up limit fits the
  /// 32-bit space): what ``PacketFrame/isTrustworthy(limits:writeLimits:)``
  /// asks of the bounds.
  @inline(__always) var fitsItsPages: Bool {
    hardStart <= data && UInt64(data) &+ UInt64(length) <= UInt64(hardEnd)
      && hardStart < hardEnd
      && UInt64(hardEnd) <= UInt64(UInt32.max) - UInt64(AddressSpace.pageSize)
  }
}
