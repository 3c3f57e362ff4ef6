/// The interpreter's view of the address space for one run: three values
/// copied out of ``AddressSpace`` so the hot loop touches no object.
struct MemoryView {
  let arena: UnsafeMutableRawPointer
  let limits: UnsafeMutablePointer<UInt32>
  let writeLimits: UnsafeMutablePointer<UInt32>
  let pages: UInt64

  init(_ space: AddressSpace) {
    arena = space.arena
    limits = space.limits
    writeLimits = space.writeLimits
    pages = UInt64(space.pageCount)
  }

  /// The host pointer for a store of `size` bytes at `address`, or nil
  /// unless they lie inside one region where programs may write (not a
  /// context record's `struct xdp_md`: ``AddressSpace/writablePointer(_:count:)``).
  @inline(__always)
  func writable(_ address: UInt64, _ size: UInt64) -> UnsafeMutableRawPointer? {
    let page = address &>> 12
    guard page < pages else { return nil }
    let end = address &+ size
    let limit = writeLimits[Int(truncatingIfNeeded: page)]
    if end <= UInt64(limit) { return arena + Int(truncatingIfNeeded: address) }
    guard limit == AddressSpace.recordPage, AddressSpace.recordTailHolds(address, count: size),
      end <= UInt64(limits[Int(truncatingIfNeeded: page)])
    else { return nil }
    return arena + Int(truncatingIfNeeded: address)
  }

  /// The host pointer for `size` bytes at `address`, or nil unless they lie
  /// inside one region.
  @inline(__always)
  func at(_ address: UInt64, _ size: UInt64) -> UnsafeMutableRawPointer? {
    let page = address &>> 12
    guard page < pages, address &+ size <= UInt64(limits[Int(truncatingIfNeeded: page)]) else {
      return nil
    }
    return arena + Int(truncatingIfNeeded: address)
  }
}
