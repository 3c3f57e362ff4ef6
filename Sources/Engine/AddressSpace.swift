/// The engine's single 32-bit address space.
///
/// `struct xdp_md` hands a program `data`, `data_end` and `data_meta` as
/// 32-bit values, so every region a program can reach (context records,
/// packet frames, stack frames, map values) lives below 4 GiB of one
/// virtual space. Regions start on page boundaries and never share a page,
/// so one table lookup per access finds the region an address falls in and
/// its end: an access is allowed only when it lies wholly inside that one
/// region. Page 0 is never mapped, so a NULL pointer always faults.
public final class AddressSpace {
  /// The granule regions are aligned to.
  public static let pageSize = 4096
  /// The largest address space the engine builds (1 GiB).
  public static let maximumSize = 1 << 30

  /// Host memory backing the whole space; address `a` is `arena + a`.
  private(set) var arena: UnsafeMutableRawPointer
  /// Per page: the end address (exclusive) of the region owning it, 0 when unmapped.
  private(set) var limits: UnsafeMutablePointer<UInt32>
  /// Pages in use, page 0 included.
  private(set) var pageCount: Int
  private var pageCapacity: Int
  /// The mapped regions, in address order.
  public private(set) var regions: [Region] = []
  /// Whether the host memory stays where it is (``fixInPlace()``): a map
  /// that would need more room then fails instead of moving the arena.
  public private(set) var isFixedInPlace = false

  /// Makes an empty space (only the unmapped page 0).
  public init() {
    pageCapacity = 64
    pageCount = 1
    arena = .allocate(byteCount: pageCapacity * Self.pageSize, alignment: Self.pageSize)
    arena.initializeMemory(as: UInt8.self, repeating: 0, count: pageCapacity * Self.pageSize)
    limits = .allocate(capacity: pageCapacity)
    limits.initialize(repeating: 0, count: pageCapacity)
  }

  deinit {
    arena.deallocate()
    limits.deallocate()
  }

  /// Maps a new zeroed region of `length` bytes at the next free page.
  ///
  /// - Throws: ``AddressSpaceError/exhausted(requested:name:)`` past
  ///   ``maximumSize``.
  public func map(length: Int, name: String) throws(AddressSpaceError) -> Region {
    let pages = max(1, (length + Self.pageSize - 1) / Self.pageSize)
    guard length >= 0, (pageCount + pages) * Self.pageSize <= Self.maximumSize else {
      throw .exhausted(requested: length, name: name)
    }
    if pageCount + pages > pageCapacity {
      guard !isFixedInPlace else { throw .exhausted(requested: length, name: name) }
      grow(to: pageCount + pages)
    }
    let start = pageCount * Self.pageSize
    let region = Region(name: name, start: UInt32(start), length: length)
    for page in pageCount..<(pageCount + pages) { limits[page] = region.end }
    pageCount += pages
    regions.append(region)
    return region
  }

  /// Makes room for `bytes` more bytes of regions at once, so that the
  /// maps that follow do not move the arena repeatedly.
  public func reserveCapacity(bytes: Int) {
    let pages = pageCount + (bytes + Self.pageSize - 1) / Self.pageSize
    if pages > pageCapacity, !isFixedInPlace,
      pages * Self.pageSize <= Self.maximumSize
    {
      grow(to: pages)
    }
  }

  /// Keeps the host memory where it is from now on: what memory shared with
  /// the kernel (an AF_XDP UMEM registered at its host address) needs.
  /// Later maps that do not fit the room already there fail with
  /// ``AddressSpaceError/exhausted(requested:name:)``.
  public func fixInPlace() { isFixedInPlace = true }

  private func grow(to pages: Int) {
    var capacity = pageCapacity
    while capacity < pages { capacity *= 2 }
    let newArena = UnsafeMutableRawPointer.allocate(
      byteCount: capacity * Self.pageSize, alignment: Self.pageSize)
    newArena.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * Self.pageSize)
    newArena.copyMemory(from: arena, byteCount: pageCount * Self.pageSize)
    arena.deallocate()
    arena = newArena
    let newLimits = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
    newLimits.initialize(repeating: 0, count: capacity)
    newLimits.update(from: limits, count: pageCount)
    limits.deallocate()
    limits = newLimits
    pageCapacity = capacity
  }

  /// The host pointer for `count` bytes at `address`, or nil when the bytes
  /// are not wholly inside one region.
  @inline(__always)
  public func pointer(_ address: UInt64, count: Int) -> UnsafeMutableRawPointer? {
    let page = address >> 12
    guard page < UInt64(pageCount), count >= 0,
      address &+ UInt64(count) <= UInt64(limits[Int(page)])
    else { return nil }
    return arena + Int(address)
  }

  /// The region an address falls in, if any.
  public func region(containing address: UInt64) -> Region? {
    let page = address >> 12
    guard page < UInt64(pageCount), limits[Int(page)] != 0 else { return nil }
    return regions.last { UInt64($0.start) <= address && address < UInt64($0.end) }
  }

  /// Copies `count` bytes out of the space, or nil when out of bounds.
  public func read(_ address: UInt64, count: Int) -> [UInt8]? {
    guard let source = pointer(address, count: count) else { return nil }
    return [UInt8](UnsafeRawBufferPointer(start: source, count: count))
  }

  /// Copies bytes into the space; false when out of bounds.
  @discardableResult
  public func write(_ bytes: [UInt8], at address: UInt64) -> Bool {
    guard let target = pointer(address, count: bytes.count) else { return false }
    bytes.withUnsafeBytes { target.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    return true
  }

  /// Reads a little-endian 32-bit value, or nil when out of bounds.
  public func readWord(_ address: UInt64) -> UInt32? {
    pointer(address, count: 4).map { $0.loadUnaligned(as: UInt32.self) }
  }

  /// Writes a little-endian 32-bit value; false when out of bounds.
  @discardableResult
  public func writeWord(_ value: UInt32, at address: UInt64) -> Bool {
    guard let target = pointer(address, count: 4) else { return false }
    target.storeBytes(of: value, as: UInt32.self)
    return true
  }
}

/// One named, contiguous range of the address space.
public struct Region: Hashable, Sendable {
  /// What the region holds (`stack frame 0`, `map rxcnt`, `packet 3`).
  public var name: String
  /// First address.
  public var start: UInt32
  /// Size in bytes.
  public var length: Int
  /// One past the last address.
  public var end: UInt32 { start + UInt32(length) }
}

/// Why the address space could not map a region.
public enum AddressSpaceError: Error, Equatable, Sendable {
  /// The 32-bit space (capped at ``AddressSpace/maximumSize``) is full.
  case exhausted(requested: Int, name: String)
}

extension AddressSpaceError: CustomStringConvertible {
  /// A one-line message.
  public var description: String {
    switch self {
    case .exhausted(let requested, let name):
      "address space exhausted: cannot map \(requested) bytes for \(name) (limit 1 GiB)"
    }
  }
}
