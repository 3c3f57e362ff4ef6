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
  @inline(__always) func trustedCount(_ count: Int) -> UInt64 {
    guard count >= 1, count <= self.count else { return 0 }
    for slot in 0..<count where trusted(slot) == 0 { return 0 }
    return UInt64(count)
  }
}
