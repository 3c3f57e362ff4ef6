import Glibc

/// Anonymous host mappings that start on a ``boundary`` (2 MiB) in every
/// process, so that the low 21 bits of the engine's hot addresses (its
/// arena, its machine code) are the same from one process to the next
/// while the bits above stay as random as `mmap` makes them.
///
/// Where a mapping starts changes the speed of the code that uses it:
/// with address space randomisation, 7 of 39 `bench` processes ran
/// xdp_stack_helper's batch form 1.3 ns a packet slower (24.0 against
/// 22.6 ns), with the same code and data at the same offsets within their
/// pages; with randomisation off (`setarch -R`) or with both the arena and
/// the code placed at fixed hints, none of 22 processes did (README, "The
/// batch loop's verdict store, and where the engine's memory starts").
enum AlignedMapping {
  /// The start of every mapping made here is a multiple of this.
  static let boundary = 2 << 20

  /// Maps `bytes` (a whole number of pages) with `protection` and `flags`
  /// (plus `MAP_PRIVATE | MAP_ANONYMOUS`) at a multiple of ``boundary``:
  /// maps `bytes + boundary` and gives back what lies before and after the
  /// aligned part. Nil when `mmap` fails.
  static func map(bytes: Int, protection: Int32, flags: Int32 = 0) -> UnsafeMutableRawPointer? {
    let span = bytes + boundary
    let mapped = mmap(nil, span, protection, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0)
    guard let mapped, mapped != MAP_FAILED else { return nil }
    let address = UInt(bitPattern: mapped)
    let start = (address + UInt(boundary) - 1) & ~UInt(boundary - 1)
    let head = Int(start - address)
    if head > 0 { munmap(mapped, head) }
    let tail = span - head - bytes
    if tail > 0 { munmap(mapped + head + bytes, tail) }
    return mapped + head
  }
}
