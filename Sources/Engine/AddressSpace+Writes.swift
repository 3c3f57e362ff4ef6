import BPF

/// Where programs may write: everywhere they may read, except the
/// `struct xdp_md` part of the context records and the values of maps
/// programs may not write.
///
/// The kernel's verifier refuses every write to an XDP program's context
/// (`xdp_is_valid_access` in net/core/filter.c allows reads only); the
/// engine holds a program to that at run time too, whatever pointer it
/// writes through (a context pointer laundered through a map value is a
/// number the static check, ``ContextAccessCheck``, does not follow). So
/// `data`, `data_end` and `data_meta` in a record change only when the
/// engine changes them (a runner filling a record, a packet helper moving
/// the bounds). What a record has past `struct xdp_md`, the batch form's
/// `act` and redirect slot (``XDPContextLayout/engine``, offsets 24 - 31),
/// stays writable: the batch form's epilogue stores each verdict there.
///
/// The kernel's verifier also refuses every store into a map value the
/// map's kind or flags make read-only to programs
/// (``MapDefinition/programsMayWrite``: `BPF_F_RDONLY_PROG`, so `.rodata`,
/// DEVMAP and DEVMAP_HASH; XSKMAP's read-only socket; CPUMAP, which no
/// program looks up). ``MapAccessRules`` refuses the stores it can follow
/// when the program is prepared; the engine holds every other store (a
/// value pointer laundered through a map, a callee's return) to it at run
/// time: such a map's values region holds 0 in the write table
/// (``protectValues(_:)``), so a store there faults as a store out of
/// bounds does, with its address and size, in both engines, and the
/// redirect a DEVMAP entry names (``RedirectSlots``) never disagrees with
/// its value.
///
/// ``AddressSpace/writeLimits`` has an entry per page as
/// ``AddressSpace/limits`` does, the same end for every page but a
/// record page's, which holds ``AddressSpace/recordPage``: there a store
/// is allowed when it lies in one record's writable tail and below the
/// region's reachable end. Both engines, the JIT's inline helpers and the
/// engine's helpers check stores against this table.
extension AddressSpace {
  /// A record page's entry in ``writeLimits``: no region ends there
  /// (regions start at page 1), so an ordinary check refuses every store.
  static let recordPage: UInt32 = 1

  /// The first byte of a record programs may write (`act`).
  static let recordWritableStart = UInt64(XDPContextLayout.engine.action)
  /// Bytes per record.
  static let recordStride = UInt64(XDPContextLayout.engine.stride)

  /// Makes the `struct xdp_md` part of every record in `region` (records
  /// of ``XDPContextLayout/engine`` from the region's start, reachable
  /// already) read-only to programs.
  func protectRecords(_ region: Region) {
    precondition(
      Self.recordStride.nonzeroBitCount == 1 && Self.pageSize % Int(Self.recordStride) == 0)
    let first = Int(region.start) / Self.pageSize
    let count = (reachableBytes(of: region) + Self.pageSize - 1) / Self.pageSize
    for page in first..<(first + count) { writeLimits[page] = Self.recordPage }
    generation.pointee &+= 1
  }

  /// Makes `region` (a map's values) read-only to programs, now and as
  /// more of it becomes reachable: its pages hold 0 in ``writeLimits``.
  /// The engine's own writes (``write(_:at:)``: the user side's updates,
  /// global data's initial value) go on as before.
  func protectValues(_ region: Region) {
    readOnlyRegions.insert(region.start)
    let first = Int(region.start) / Self.pageSize
    let count = (reachableBytes(of: region) + Self.pageSize - 1) / Self.pageSize
    for page in first..<(first + count) { writeLimits[page] = 0 }
    generation.pointee &+= 1
  }

  /// Whether a store of `count` bytes at `address` on a record page lies
  /// in one record's writable tail (regions start on a page, and a page
  /// holds whole records).
  @inline(__always)
  static func recordTailHolds(_ address: UInt64, count: UInt64) -> Bool {
    let offset = address & (recordStride - 1)
    return offset >= recordWritableStart && offset &+ count <= recordStride
  }

  /// The host pointer for a program's store of `count` bytes at
  /// `address`, or nil unless they lie inside one region where programs
  /// may write.
  @inline(__always)
  public func writablePointer(_ address: UInt64, count: Int) -> UnsafeMutableRawPointer? {
    let page = address >> 12
    guard page < UInt64(pageCount), count >= 0 else { return nil }
    let end = address &+ UInt64(count)
    let limit = writeLimits[Int(page)]
    if end <= UInt64(limit) { return arena + Int(address) }
    guard limit == Self.recordPage, Self.recordTailHolds(address, count: UInt64(count)),
      end <= UInt64(limits[Int(page)])
    else { return nil }
    return arena + Int(address)
  }
}
