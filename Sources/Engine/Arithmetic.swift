import BPF
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

  /// An atomic read-modify-write of a 32- or 64-bit `Word` at `p`; fetch
  /// forms put the old value, zero-extended, in `src` (R0 for
  /// compare-exchange). Aligned (every access the kernel's verifier
  /// accepts) it is one atomic instruction of the host, so it holds
  /// against the other threads and the kernel sharing the memory (a map
  /// the software datapath maps); unaligned it is a plain
  /// read-modify-write.
  @inline(__always)
  static func atomic<Word: AtomicWord>(
    _ kind: AtomicOperation, _: Word.Type, _ p: UnsafeMutableRawPointer,
    _ r: UnsafeMutablePointer<UInt64>, _ src: Int
  ) {
    let value = Word(truncatingIfNeeded: r[src])
    let expected = Word(truncatingIfNeeded: r[0])
    let old: Word
    if UInt(bitPattern: p) & UInt(MemoryLayout<Word>.size - 1) == 0 {
      let cell = p.assumingMemoryBound(to: Atomic<Word>.self)
      switch kind {
      case .add, .fetchAdd: old = Word.add(value, to: cell)
      case .or, .fetchOr: old = Word.or(value, to: cell)
      case .and, .fetchAnd: old = Word.and(value, to: cell)
      case .xor, .fetchXor: old = Word.xor(value, to: cell)
      case .exchange: old = Word.exchange(value, in: cell)
      case .compareExchange: old = Word.compareExchange(expected, value, in: cell)
      }
    } else {
      old = p.loadUnaligned(as: Word.self)
      let new: Word
      switch kind {
      case .add, .fetchAdd: new = old &+ value
      case .or, .fetchOr: new = old | value
      case .and, .fetchAnd: new = old & value
      case .xor, .fetchXor: new = old ^ value
      case .exchange: new = value
      case .compareExchange: new = expected == old ? value : old
      }
      p.storeBytes(of: new, as: Word.self)
    }
    switch kind {
    case .compareExchange: r[0] = UInt64(old)
    case .fetchAdd, .fetchOr, .fetchAnd, .fetchXor, .exchange: r[src] = UInt64(old)
    case .add, .or, .and, .xor: break
    }
  }

  /// The atomic `operation` (any of the twenty) at `p`, at its width.
  @inline(__always)
  static func atomic(
    _ operation: Operation, _ p: UnsafeMutableRawPointer, _ r: UnsafeMutablePointer<UInt64>,
    _ src: Int
  ) {
    let kind = operation.atomicKind
    if operation.isWideAtomic {
      atomic(kind, UInt64.self, p, r, src)
    } else {
      atomic(kind, UInt32.self, p, r, src)
    }
  }
}

/// A word the host updates atomically: `Synchronization` declares its
/// read-modify-writes per width, so each width names them here (one line
/// each, sequentially consistent). Each returns the old value.
protocol AtomicWord: FixedWidthInteger, UnsignedInteger, AtomicRepresentable {
  static func add(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self
  static func or(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self
  static func and(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self
  static func xor(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self
  static func exchange(_ value: Self, in cell: UnsafeMutablePointer<Atomic<Self>>) -> Self
  static func compareExchange(
    _ expected: Self, _ value: Self, in cell: UnsafeMutablePointer<Atomic<Self>>
  ) -> Self
}

extension UInt32: AtomicWord {
  @inline(__always)
  static func add(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self {
    cell.pointee.wrappingAdd(value, ordering: .sequentiallyConsistent).oldValue
  }
  @inline(__always)
  static func or(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self {
    cell.pointee.bitwiseOr(value, ordering: .sequentiallyConsistent).oldValue
  }
  @inline(__always)
  static func and(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self {
    cell.pointee.bitwiseAnd(value, ordering: .sequentiallyConsistent).oldValue
  }
  @inline(__always)
  static func xor(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self {
    cell.pointee.bitwiseXor(value, ordering: .sequentiallyConsistent).oldValue
  }
  @inline(__always)
  static func exchange(_ value: Self, in cell: UnsafeMutablePointer<Atomic<Self>>) -> Self {
    cell.pointee.exchange(value, ordering: .sequentiallyConsistent)
  }
  @inline(__always)
  static func compareExchange(
    _ expected: Self, _ value: Self, in cell: UnsafeMutablePointer<Atomic<Self>>
  ) -> Self {
    cell.pointee.compareExchange(
      expected: expected, desired: value, ordering: .sequentiallyConsistent
    ).original
  }
}

extension UInt64: AtomicWord {
  @inline(__always)
  static func add(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self {
    cell.pointee.wrappingAdd(value, ordering: .sequentiallyConsistent).oldValue
  }
  @inline(__always)
  static func or(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self {
    cell.pointee.bitwiseOr(value, ordering: .sequentiallyConsistent).oldValue
  }
  @inline(__always)
  static func and(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self {
    cell.pointee.bitwiseAnd(value, ordering: .sequentiallyConsistent).oldValue
  }
  @inline(__always)
  static func xor(_ value: Self, to cell: UnsafeMutablePointer<Atomic<Self>>) -> Self {
    cell.pointee.bitwiseXor(value, ordering: .sequentiallyConsistent).oldValue
  }
  @inline(__always)
  static func exchange(_ value: Self, in cell: UnsafeMutablePointer<Atomic<Self>>) -> Self {
    cell.pointee.exchange(value, ordering: .sequentiallyConsistent)
  }
  @inline(__always)
  static func compareExchange(
    _ expected: Self, _ value: Self, in cell: UnsafeMutablePointer<Atomic<Self>>
  ) -> Self {
    cell.pointee.compareExchange(
      expected: expected, desired: value, ordering: .sequentiallyConsistent
    ).original
  }
}
