/// `bpf_csum_diff` as kernels since 6.13 compute it (net/core/filter.c):
/// a one's-complement sum of `to` (seeded), less the sum of `from`, folded
/// to 16 bits with `from32to16`, the same on every architecture.
enum Checksum {
  /// The helper's return value, summed where the bytes are.
  static func difference(from: UnsafeRawBufferPointer, to: UnsafeRawBufferPointer, seed: UInt32)
    -> UInt32
  {
    let result: UInt32
    if from.count > 0 && to.count > 0 {
      result = add(partial(to, seed: seed), ~partial(from, seed: 0))
    } else if to.count > 0 {
      result = partial(to, seed: seed)
    } else if from.count > 0 {
      result = ~partial(from, seed: ~seed)
    } else {
      result = seed
    }
    return fold(result)
  }

  /// `csum_partial`: the 32-bit one's-complement sum of the bytes read as
  /// little-endian 32-bit words (a short tail zero-padded), plus `seed`.
  /// The 64-bit sum folds every 2^31 words, so no length overflows it.
  static func partial(_ bytes: UnsafeRawBufferPointer, seed: UInt32) -> UInt32 {
    var sum = UInt64(seed)
    let whole = bytes.count & ~3
    var index = 0
    while index < whole {
      sum &+= UInt64(bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self))
      index += 4
      if sum >> 63 != 0 { sum = (sum & 0xffff_ffff) &+ (sum >> 32) }
    }
    var tail: UInt32 = 0
    for byte in 0..<(bytes.count - whole) {
      tail |= UInt32(bytes[whole + byte]) << (8 * UInt32(byte))
    }
    sum &+= UInt64(tail)
    while sum >> 32 != 0 { sum = (sum & 0xffff_ffff) &+ (sum >> 32) }
    return UInt32(sum)
  }

  /// `csum_add`: 32-bit addition with end-around carry.
  static func add(_ a: UInt32, _ b: UInt32) -> UInt32 {
    let (sum, carry) = a.addingReportingOverflow(b)
    return sum &+ (carry ? 1 : 0)
  }

  /// `from32to16`: the 16-bit one's-complement sum of the two halves.
  static func fold(_ value: UInt32) -> UInt32 {
    let sum = value &+ ((value >> 16) | (value << 16))
    return sum >> 16
  }
}
