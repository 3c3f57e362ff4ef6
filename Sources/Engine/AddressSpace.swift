import Glibc

/// The engine's single 32-bit address space.
///
/// `struct xdp_md` hands a program `data`, `data_end` and `data_meta` as
/// 32-bit values, so every region a program can reach (context records,
/// packet frames, stack frames, map values) lives below 4 GiB of one
/// virtual space. Regions start on page boundaries and never share a page,
/// so one table lookup per access finds the region an address falls in and
/// its end: an access is allowed only when it lies wholly inside that one
/// region. Page 0 is never mapped, so a NULL pointer always faults.
///
/// The whole space is reserved up front (`mmap` with `MAP_NORESERVE`) and
/// never moves: the host commits a page only when it is first written, so
/// a region costs what is used of it. What a region *may* commit is
/// charged to a ``MemoryBudget`` when it becomes reachable: all of it for
/// ``map(length:name:)``, as it grows for ``reserve(length:name:)``.
public final class AddressSpace {
  /// The granule regions are aligned to.
  public static let pageSize = 4096
  /// The largest address space the engine builds (4 GiB less 64 KiB, so
  /// every region end fits 32 bits).
  public static let maximumSize = (1 << 32) - (1 << 16)
  /// Entries of ``limits``: one for every page of the 32-bit range, past
  /// the space's end too (0 there), so the page of any 32-bit address can
  /// be looked up without a bounds check (the JIT's packet guard).
  static let tableEntries = 1 << 20

  /// Host memory backing the whole space; address `a` is `arena + a`.
  let arena: UnsafeMutableRawPointer
  /// Per page: the end address (exclusive) of the region owning it, 0 when
  /// unmapped (or not yet reachable in a reserved region).
  let limits: UnsafeMutablePointer<UInt32>
  /// Per page: where programs may write, as ``limits`` says where they may
  /// read (the same end for every page but the context records'), or
  /// ``recordPage`` on a page of context records, whose `struct xdp_md`
  /// programs may only read (``protectRecords(_:)``).
  let writeLimits: UnsafeMutablePointer<UInt32>
  /// Bumped on every change of ``limits`` and ``writeLimits`` (but a
  /// frame's lending, ``Machine/lendPages(from:to:)``, which empties the
  /// windows on the frame's pages itself): the JIT's access windows
  /// (``AccessWindow``) keep their pages across runs only while this
  /// holds the value they were filled at. Allocated once, never moves.
  let generation: UnsafeMutablePointer<UInt64>
  /// Pages handed out, page 0 included.
  private(set) var pageCount: Int
  /// The mapped and reserved regions, in address order.
  public private(set) var regions: [Region] = []
  /// The budget charges go to.
  public let budget: MemoryBudget
  /// Bytes charged to ``budget`` (given back when the space goes).
  public private(set) var charged = 0
  /// Reachable bytes of each reserved region, by start address.
  private var reachable: [UInt32: Int] = [:]
  /// Regions whose values programs may read but not write, by start
  /// address (``protectValues(_:)``): their pages hold 0 in
  /// ``writeLimits`` as they become reachable.
  var readOnlyRegions: Set<UInt32> = []

  /// Makes an empty space (only the unmapped page 0) charging `budget`.
  ///
  /// - Throws: ``AddressSpaceError/unreservable(bytes:)`` when the host
  ///   refuses to reserve the virtual range.
  public init(budget: MemoryBudget = .shared) throws(AddressSpaceError) {
    self.budget = budget
    let pages = Self.tableEntries
    guard let arena = Self.reserveHost(Self.maximumSize) else {
      throw .unreservable(bytes: Self.maximumSize)
    }
    let tableBytes = pages * MemoryLayout<UInt32>.stride
    guard let table = Self.reserveHost(tableBytes) else {
      munmap(arena, Self.maximumSize)
      throw .unreservable(bytes: tableBytes)
    }
    guard let writeTable = Self.reserveHost(tableBytes) else {
      munmap(arena, Self.maximumSize)
      munmap(table, tableBytes)
      throw .unreservable(bytes: tableBytes)
    }
    self.arena = arena
    limits = table.bindMemory(to: UInt32.self, capacity: pages)
    writeLimits = writeTable.bindMemory(to: UInt32.self, capacity: pages)
    generation = .allocate(capacity: 1)
    generation.initialize(to: 0)
    pageCount = 1
  }

  deinit {
    munmap(arena, Self.maximumSize)
    munmap(limits, Self.tableEntries * MemoryLayout<UInt32>.stride)
    munmap(writeLimits, Self.tableEntries * MemoryLayout<UInt32>.stride)
    generation.deallocate()
    budget.release(charged)
  }

  /// Zeroed host memory that commits only the pages written, from a
  /// 2 MiB boundary (``AlignedMapping``).
  private static func reserveHost(_ bytes: Int) -> UnsafeMutableRawPointer? {
    AlignedMapping.map(bytes: bytes, protection: PROT_READ | PROT_WRITE, flags: MAP_NORESERVE)
  }

  /// Maps a new zeroed region of `length` bytes at the next free page, and
  /// charges all of it to the budget.
  ///
  /// - Throws: ``AddressSpaceError/exhausted(requested:name:)`` past
  ///   ``maximumSize``, ``AddressSpaceError/budget(_:)`` past the budget.
  public func map(length: Int, name: String) throws(AddressSpaceError) -> Region {
    let region = try reserve(length: length, name: name)
    try reach(region, bytes: length)
    return region
  }

  /// Takes the address range for a region of `length` bytes without making
  /// any of it reachable or charging for it; ``reach(_:bytes:)`` opens it
  /// as it is used (hash map values).
  public func reserve(length: Int, name: String) throws(AddressSpaceError) -> Region {
    guard length >= 0, length <= Self.maximumSize else {
      throw .exhausted(requested: length, name: name)
    }
    let pages = max(1, (length + Self.pageSize - 1) / Self.pageSize)
    guard (pageCount + pages) * Self.pageSize <= Self.maximumSize else {
      throw .exhausted(requested: length, name: name)
    }
    let region = Region(name: name, start: UInt32(pageCount * Self.pageSize), length: length)
    pageCount += pages
    regions.append(region)
    reachable[region.start] = 0
    return region
  }

  /// Makes the first `bytes` of `region` (rounded up to pages, at most its
  /// length) reachable, charging the pages not charged before.
  ///
  /// - Throws: ``AddressSpaceError/budget(_:)`` past the budget; the
  ///   region is then unchanged.
  public func reach(_ region: Region, bytes: Int) throws(AddressSpaceError) {
    let first = Int(region.start) / Self.pageSize
    guard region.length > 0 else {
      limits[first] = region.start  // an empty region: only empty accesses at its start
      writeLimits[first] = readOnlyRegions.contains(region.start) ? 0 : region.start
      generation.pointee &+= 1
      return
    }
    let before = reachable[region.start] ?? 0
    let after = max(before, min(pages(min(bytes, region.length)) * Self.pageSize, region.length))
    guard after > before else { return }
    let cost = (pages(after) - pages(before)) * Self.pageSize
    do {
      try budget.charge(cost, for: region.name)
    } catch {
      throw .budget(error)
    }
    charged += cost
    reachable[region.start] = after
    let end = region.start + UInt32(after)
    let writeEnd = readOnlyRegions.contains(region.start) ? 0 : end
    for page in first..<(first + pages(after)) {
      limits[page] = end
      writeLimits[page] = writeEnd
    }
    generation.pointee &+= 1
  }

  /// Charges `bytes` of host memory the space's machine keeps for its
  /// programs outside the space (its trace ring); false, and nothing
  /// charged, when the budget cannot hold them.
  func chargeHost(_ bytes: Int, for name: String) -> Bool {
    do {
      try budget.charge(bytes, for: name)
    } catch {
      return false
    }
    charged += bytes
    return true
  }

  /// Gives back host memory ``chargeHost(_:for:)`` charged.
  func releaseHost(_ bytes: Int) {
    budget.release(bytes)
    charged -= bytes
  }

  /// Puts the pages of `descriptor` (from offset 0; a kernel array map
  /// created with `BPF_F_MMAPABLE`) in place of `region`'s, shared: the
  /// region keeps its address, its reach and its charge, and what a
  /// program writes there every other user of the pages sees at once, and
  /// the other way round. Call it before a program can hold a pointer
  /// into the region (the old contents are gone).
  ///
  /// - Throws: ``AddressSpaceError/unshareable(name:errno:)`` when the
  ///   host refuses to map the file; the region is then as it was.
  public func share(_ region: Region, descriptor: Int32) throws(AddressSpaceError) {
    let length = pages(region.length) * Self.pageSize
    // A trial mapping anywhere first: the file's refusal (too short, not
    // mappable) then leaves the region's own pages in place.
    let trial = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
    guard let trial, trial != MAP_FAILED else {
      throw .unshareable(name: region.name, errno: Glibc.errno)
    }
    munmap(trial, length)
    let target = arena + Int(region.start)
    let mapped = mmap(
      target, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, descriptor, 0)
    guard mapped == target else {
      let code = Glibc.errno
      // Never a hole in the arena: zeroed private pages again.
      mmap(
        target, length, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0)
      throw .unshareable(name: region.name, errno: code)
    }
  }

  /// Bytes of `region` programs can reach now.
  public func reachableBytes(of region: Region) -> Int { reachable[region.start] ?? 0 }

  private func pages(_ bytes: Int) -> Int { (bytes + Self.pageSize - 1) / Self.pageSize }

  /// Whether `count` bytes at `address` are all zero (false when out of
  /// bounds). Reads of never-written pages cost no memory.
  public func isZero(_ address: UInt64, count: Int) -> Bool {
    guard let start = pointer(address, count: count) else { return false }
    var offset = 0
    while offset < count {
      let length = min(Self.pageSize, count - offset)
      if memcmp(start + offset, Self.zeroPage, length) != 0 { return false }
      offset += length
    }
    return true
  }

  /// Which of the `pages` pages from page-aligned `address` the host may
  /// hold data for (written, or swapped out), from `/proc/self/pagemap`;
  /// all of them when it cannot be read. Lets a scan skip, and never
  /// fault in, pages no one wrote.
  public func possiblyWrittenPages(from address: UInt64, pages: Int) -> [Int] {
    let all = Array(0..<pages)
    let descriptor = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return all }
    defer { close(descriptor) }
    let entrySize = MemoryLayout<UInt64>.size
    let firstEntry = (Int(bitPattern: arena) + Int(address)) / Self.pageSize
    var result: [Int] = []
    var entries = [UInt64](repeating: 0, count: 8192)
    var done = 0
    while done < pages {
      let batch = min(entries.count, pages - done)
      let bytes = entries.withUnsafeMutableBytes {
        pread(descriptor, $0.baseAddress, batch * entrySize, off_t((firstEntry + done) * entrySize))
      }
      guard bytes == batch * entrySize else { return all }
      for index in 0..<batch where entries[index] & (3 << 62) != 0 { result.append(done + index) }
      done += batch
    }
    return result
  }

  /// One page of zeros to compare with (never written).
  private nonisolated(unsafe) static let zeroPage = UnsafeRawPointer(
    UnsafeMutableRawPointer.allocate(byteCount: pageSize, alignment: pageSize).initializeMemory(
      as: UInt8.self, repeating: 0, count: pageSize))

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

  /// How many bytes from `address` to the end of the region it falls in
  /// can be read (0 outside every region).
  func bytesAvailable(at address: UInt64) -> Int {
    let page = address >> 12
    guard page < UInt64(pageCount) else { return 0 }
    let limit = UInt64(limits[Int(page)])
    return limit > address ? Int(limit - address) : 0
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
  /// The process's ``MemoryBudget`` cannot hold the region.
  case budget(MemoryBudgetError)
  /// The host refused to reserve the space's virtual range.
  case unreservable(bytes: Int)
  /// The host refused to map a file's pages over the region (errno).
  case unshareable(name: String, errno: Int32)
}

extension AddressSpaceError: CustomStringConvertible {
  /// A one-line message.
  public var description: String {
    switch self {
    case .exhausted(let requested, let name):
      "\(name): \(MemoryBudgetError.format(requested)) do not fit the engine's 32-bit address space"
        + " (\(MemoryBudgetError.format(AddressSpace.maximumSize)) in all)"
    case .budget(let error): error.description
    case .unreservable(let bytes):
      "cannot reserve \(MemoryBudgetError.format(bytes)) of address space (ulimit -v?)"
    case .unshareable(let name, let code):
      "\(name): cannot map the kernel's pages (errno \(code))"
    }
  }
}
