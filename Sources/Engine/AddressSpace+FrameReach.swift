/// Frames lent to a program for one call.
///
/// A region whose pages are closed (``closePages(of:)``) stays mapped and
/// charged, and its host memory stays the caller's (a UMEM the kernel
/// writes into), but no program access reaches it: the page table holds 0
/// for its pages, so every load and store there faults in both engines.
/// A runner opens the pages of the frames one call works on before the
/// call (``openPages(from:to:)``) and closes them after, so a program
/// reaches its own frame (per packet) or its batch's frames (batch form)
/// and no other frame of the region.
extension AddressSpace {
  /// Closes every page of `region` to programs.
  public func closePages(of region: Region) {
    let first = Int(region.start) / Self.pageSize
    let count = (region.length + Self.pageSize - 1) / Self.pageSize
    for page in first..<(first + count) {
      limits[page] = 0
      writeLimits[page] = 0
    }
    generation.pointee &+= 1
  }

  /// Opens the pages from `start` up to `end` (both in a region whose
  /// pages were closed; `end` rounded up to a page) as one reachable
  /// range: an access must lie wholly below `end`.
  @inline(__always)
  public func openPages(from start: UInt64, to end: UInt64) {
    let limit = (end &+ UInt64(Self.pageSize - 1)) & ~UInt64(Self.pageSize - 1)
    var page = Int(start >> 12)
    while UInt64(page) << 12 < limit {
      limits[page] = UInt32(truncatingIfNeeded: limit)
      writeLimits[page] = UInt32(truncatingIfNeeded: limit)
      page += 1
    }
    generation.pointee &+= 1
  }

  /// Closes the pages from `start` up to `end` again.
  @inline(__always)
  public func closePages(from start: UInt64, to end: UInt64) {
    var page = Int(start >> 12)
    while UInt64(page) << 12 < end {
      limits[page] = 0
      writeLimits[page] = 0
      page += 1
    }
    generation.pointee &+= 1
  }

  /// The host memory of `address`, in a region this space mapped, whether
  /// or not programs can reach it now: for the owner of a closed region
  /// (the datapath reading the frames it lends out).
  @inline(__always)
  public func hostMemory(at address: UInt32) -> UnsafeMutableRawPointer {
    arena + Int(address)
  }
}
