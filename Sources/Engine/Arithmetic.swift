import Synchronization

/// The ISA's corner cases, in one place: division by zero gives 0, modulo
/// by zero leaves the dividend (zero-extended on 32 bits), `INT_MIN / -1`
/// wraps to `INT_MIN` and `INT_MIN % -1` is 0 (RFC 9669, section 4.1).
enum Arithmetic {
  @inline(__always)
  static func sdiv64(_ dividend: UInt64, _ divisor: UInt64) -> UInt64 {
    let a = Int64(bitPattern: dividend)
    let b = Int64(bitPattern: divisor)
    if b == 0 { return 0 }
    if b == -1 { return UInt64(bitPattern: 0 &- a) }
    return UInt64(bitPattern: a / b)
  }

  @inline(__always)
  static func smod64(_ dividend: UInt64, _ divisor: UInt64) -> UInt64 {
    let a = Int64(bitPattern: dividend)
    let b = Int64(bitPattern: divisor)
    if b == 0 { return dividend }
    if b == -1 { return 0 }
    return UInt64(bitPattern: a % b)
  }

  @inline(__always)
  static func div32(_ dividend: UInt64, _ divisor: UInt64) -> UInt64 {
    let b = UInt32(truncatingIfNeeded: divisor)
    return b == 0 ? 0 : UInt64(UInt32(truncatingIfNeeded: dividend) / b)
  }

  @inline(__always)
  static func mod32(_ dividend: UInt64, _ divisor: UInt64) -> UInt64 {
    let a = UInt32(truncatingIfNeeded: dividend)
    let b = UInt32(truncatingIfNeeded: divisor)
    return b == 0 ? UInt64(a) : UInt64(a % b)
  }

  @inline(__always)
  static func sdiv32(_ dividend: UInt64, _ divisor: UInt64) -> UInt64 {
    let a = Int32(truncatingIfNeeded: dividend)
    let b = Int32(truncatingIfNeeded: divisor)
    if b == 0 { return 0 }
    if b == -1 { return UInt64(UInt32(bitPattern: 0 &- a)) }
    return UInt64(UInt32(bitPattern: a / b))
  }

  @inline(__always)
  static func smod32(_ dividend: UInt64, _ divisor: UInt64) -> UInt64 {
    let a = Int32(truncatingIfNeeded: dividend)
    let b = Int32(truncatingIfNeeded: divisor)
    if b == 0 { return UInt64(UInt32(bitPattern: a)) }
    if b == -1 { return 0 }
    return UInt64(UInt32(bitPattern: a % b))
  }

  /// The 32-bit conditional jumps: compare the low halves.
  @inline(__always)
  static func compare32(_ operation: Operation, _ dst: UInt64, _ src: UInt64, _ immediate: UInt64)
    -> Bool
  {
    let a = UInt32(truncatingIfNeeded: dst)
    let x = UInt32(truncatingIfNeeded: src)
    let k = UInt32(truncatingIfNeeded: immediate)
    let sa = Int32(bitPattern: a)
    switch operation {
    case .jeq32K: return a == k
    case .jeq32X: return a == x
    case .jgt32K: return a > k
    case .jgt32X: return a > x
    case .jge32K: return a >= k
    case .jge32X: return a >= x
    case .jset32K: return a & k != 0
    case .jset32X: return a & x != 0
    case .jne32K: return a != k
    case .jne32X: return a != x
    case .jsgt32K: return sa > Int32(bitPattern: k)
    case .jsgt32X: return sa > Int32(bitPattern: x)
    case .jsge32K: return sa >= Int32(bitPattern: k)
    case .jsge32X: return sa >= Int32(bitPattern: x)
    case .jlt32K: return a < k
    case .jlt32X: return a < x
    case .jle32K: return a <= k
    case .jle32X: return a <= x
    case .jslt32K: return sa < Int32(bitPattern: k)
    case .jslt32X: return sa < Int32(bitPattern: x)
    case .jsle32K: return sa <= Int32(bitPattern: k)
    default: return sa <= Int32(bitPattern: x)
    }
  }

  /// A 32-bit atomic read-modify-write at `p`; fetch forms put the old
  /// value, zero-extended, in `src` (R0 for compare-exchange). Aligned
  /// (every access the kernel's verifier accepts) it is one atomic
  /// instruction of the host, so it holds against the other threads and
  /// the kernel sharing the memory (a map the software datapath maps);
  /// unaligned it is a plain read-modify-write.
  @inline(__always)
  static func atomic32(
    _ operation: Operation, _ p: UnsafeMutableRawPointer, _ r: UnsafeMutablePointer<UInt64>,
    _ src: Int
  ) {
    let value = UInt32(truncatingIfNeeded: r[src])
    let expected = UInt32(truncatingIfNeeded: r[0])
    let old: UInt32
    if UInt(bitPattern: p) & 3 == 0 {
      let cell = p.assumingMemoryBound(to: Atomic<UInt32>.self)
      switch operation {
      case .atomicAdd32, .atomicFetchAdd32:
        old = cell.pointee.wrappingAdd(value, ordering: .sequentiallyConsistent).oldValue
      case .atomicOr32, .atomicFetchOr32:
        old = cell.pointee.bitwiseOr(value, ordering: .sequentiallyConsistent).oldValue
      case .atomicAnd32, .atomicFetchAnd32:
        old = cell.pointee.bitwiseAnd(value, ordering: .sequentiallyConsistent).oldValue
      case .atomicXor32, .atomicFetchXor32:
        old = cell.pointee.bitwiseXor(value, ordering: .sequentiallyConsistent).oldValue
      case .atomicExchange32: old = cell.pointee.exchange(value, ordering: .sequentiallyConsistent)
      default:
        old =
          cell.pointee.compareExchange(
            expected: expected, desired: value, ordering: .sequentiallyConsistent
          ).original
      }
    } else {
      old = p.loadUnaligned(as: UInt32.self)
      let new: UInt32
      switch operation {
      case .atomicAdd32, .atomicFetchAdd32: new = old &+ value
      case .atomicOr32, .atomicFetchOr32: new = old | value
      case .atomicAnd32, .atomicFetchAnd32: new = old & value
      case .atomicXor32, .atomicFetchXor32: new = old ^ value
      case .atomicExchange32: new = value
      default: new = expected == old ? value : old
      }
      p.storeBytes(of: new, as: UInt32.self)
    }
    switch operation {
    case .atomicFetchAdd32, .atomicFetchOr32, .atomicFetchAnd32, .atomicFetchXor32,
      .atomicExchange32:
      r[src] = UInt64(old)
    case .atomicCompareExchange32: r[0] = UInt64(old)
    default: break
    }
  }

  /// A 64-bit atomic read-modify-write at `p` (as ``atomic32(_:_:_:_:)``).
  @inline(__always)
  static func atomic64(
    _ operation: Operation, _ p: UnsafeMutableRawPointer, _ r: UnsafeMutablePointer<UInt64>,
    _ src: Int
  ) {
    let value = r[src]
    let expected = r[0]
    let old: UInt64
    if UInt(bitPattern: p) & 7 == 0 {
      let cell = p.assumingMemoryBound(to: Atomic<UInt64>.self)
      switch operation {
      case .atomicAdd64, .atomicFetchAdd64:
        old = cell.pointee.wrappingAdd(value, ordering: .sequentiallyConsistent).oldValue
      case .atomicOr64, .atomicFetchOr64:
        old = cell.pointee.bitwiseOr(value, ordering: .sequentiallyConsistent).oldValue
      case .atomicAnd64, .atomicFetchAnd64:
        old = cell.pointee.bitwiseAnd(value, ordering: .sequentiallyConsistent).oldValue
      case .atomicXor64, .atomicFetchXor64:
        old = cell.pointee.bitwiseXor(value, ordering: .sequentiallyConsistent).oldValue
      case .atomicExchange64: old = cell.pointee.exchange(value, ordering: .sequentiallyConsistent)
      default:
        old =
          cell.pointee.compareExchange(
            expected: expected, desired: value, ordering: .sequentiallyConsistent
          ).original
      }
    } else {
      old = p.loadUnaligned(as: UInt64.self)
      let new: UInt64
      switch operation {
      case .atomicAdd64, .atomicFetchAdd64: new = old &+ value
      case .atomicOr64, .atomicFetchOr64: new = old | value
      case .atomicAnd64, .atomicFetchAnd64: new = old & value
      case .atomicXor64, .atomicFetchXor64: new = old ^ value
      case .atomicExchange64: new = value
      default: new = expected == old ? value : old
      }
      p.storeBytes(of: new, as: UInt64.self)
    }
    switch operation {
    case .atomicFetchAdd64, .atomicFetchOr64, .atomicFetchAnd64, .atomicFetchXor64,
      .atomicExchange64:
      r[src] = old
    case .atomicCompareExchange64: r[0] = old
    default: break
    }
  }
}
