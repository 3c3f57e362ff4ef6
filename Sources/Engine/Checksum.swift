/// `bpf_csum_diff` as kernels since 6.13 compute it (net/core/filter.c):
/// a one's-complement sum of `to` (seeded), less the sum of `from`, folded
/// to 16 bits with `from32to16`, the same on every architecture.
enum Checksum {
  /// The helper's return value.
  static func difference(from: [UInt8], to: [UInt8], seed: UInt32) -> UInt32 {
    let result: UInt32
    if !from.isEmpty && !to.isEmpty {
      result = add(partial(to, seed: seed), ~partial(from, seed: 0))
    } else if !to.isEmpty {
      result = partial(to, seed: seed)
    } else if !from.isEmpty {
      result = ~partial(from, seed: ~seed)
    } else {
      result = seed
    }
    return fold(result)
  }

  /// `csum_partial`: the 32-bit one's-complement sum of the bytes read as
  /// little-endian 32-bit words (a short tail zero-padded), plus `seed`.
  static func partial(_ bytes: [UInt8], seed: UInt32) -> UInt32 {
    var sum = UInt64(seed)
    var index = 0
    while index < bytes.count {
      var word: UInt32 = 0
      for byte in 0..<4 where index + byte < bytes.count {
        word |= UInt32(bytes[index + byte]) << (8 * UInt32(byte))
      }
      sum += UInt64(word)
      index += 4
    }
    while sum >> 32 != 0 { sum = (sum & 0xffff_ffff) + (sum >> 32) }
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
