/// ALU32/ALU64 and byte-order instructions, with the kernel's division
/// rules (x / 0 = 0, x % 0 = x, INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0).
extension JITCompiler {
  mutating func emitArithmetic(_ s: Slot) {
    let d = JITRegisters.bpf(s.dst)
    let x = JITRegisters.bpf(s.src)
    let k = Int32(truncatingIfNeeded: s.immediate)
    switch s.operation {
    case .add64K, .add32K: a.arithmetic(digit: 0, d, immediate: k, wide: s.operation == .add64K)
    case .add64X, .add32X: a.arithmetic(0x01, d, x, wide: s.operation == .add64X)
    case .sub64K, .sub32K: a.arithmetic(digit: 5, d, immediate: k, wide: s.operation == .sub64K)
    case .sub64X, .sub32X: a.arithmetic(0x29, d, x, wide: s.operation == .sub64X)
    case .or64K, .or32K: a.arithmetic(digit: 1, d, immediate: k, wide: s.operation == .or64K)
    case .or64X, .or32X: a.arithmetic(0x09, d, x, wide: s.operation == .or64X)
    case .and64K, .and32K: a.arithmetic(digit: 4, d, immediate: k, wide: s.operation == .and64K)
    case .and64X, .and32X: a.arithmetic(0x21, d, x, wide: s.operation == .and64X)
    case .xor64K, .xor32K: a.arithmetic(digit: 6, d, immediate: k, wide: s.operation == .xor64K)
    case .xor64X, .xor32X: a.arithmetic(0x31, d, x, wide: s.operation == .xor64X)
    case .mul64K, .mul32K: a.multiply(d, immediate: k, wide: s.operation == .mul64K)
    case .mul64X, .mul32X: a.multiply(d, x, wide: s.operation == .mul64X)
    case .mov64K: a.move(d, immediate: UInt64(bitPattern: Int64(k)))
    case .mov32K: a.move(d, immediate: UInt64(UInt32(bitPattern: k)))
    case .mov64X: if d != x { a.move(d, x) }
    case .mov32X: a.move(d, x, wide: false)
    case .neg64: a.unary(digit: 3, d, wide: true)
    case .neg32: a.unary(digit: 3, d, wide: false)
    case .lsh64K: shift(4, d, k, wide: true)
    case .lsh32K: shift(4, d, k, wide: false)
    case .rsh64K: shift(5, d, k, wide: true)
    case .rsh32K: shift(5, d, k, wide: false)
    case .arsh64K: shift(7, d, k, wide: true)
    case .arsh32K: shift(7, d, k, wide: false)
    case .lsh64X: shift(4, d, by: x, wide: true)
    case .lsh32X: shift(4, d, by: x, wide: false)
    case .rsh64X: shift(5, d, by: x, wide: true)
    case .rsh32X: shift(5, d, by: x, wide: false)
    case .arsh64X: shift(7, d, by: x, wide: true)
    case .arsh32X: shift(7, d, by: x, wide: false)
    case .div64K, .div64X, .div32K, .div32X, .mod64K, .mod64X, .mod32K, .mod32X,
      .sdiv64K, .sdiv64X, .sdiv32K, .sdiv32X, .smod64K, .smod64X, .smod32K, .smod32X:
      divide(s, d, x, k)
    case .movsx8To64: a.extend(0xbe, d, x, wide: true)
    case .movsx16To64: a.extend(0xbf, d, x, wide: true)
    case .movsx32To64: a.extend(0x63, d, x, wide: true)
    case .movsx8To32: a.extend(0xbe, d, x, wide: false)
    case .movsx16To32: a.extend(0xbf, d, x, wide: false)
    case .toLittle16: a.extend(0xb7, d, d, wide: false)
    case .toLittle32: a.move(d, d, wide: false)
    case .toLittle64: break
    case .swap16:
      a.swapLowBytes(d)
      a.extend(0xb7, d, d, wide: false)
    case .swap32: a.byteSwap(d, wide: false)
    case .swap64: a.byteSwap(d, wide: true)
    default: preconditionFailure("\(s.operation) is not arithmetic")
    }
  }

  /// A shift by a constant (masked as the interpreter's `&<<` masks it).
  private mutating func shift(_ digit: UInt8, _ d: X86Register, _ k: Int32, wide: Bool) {
    let count = UInt8(truncatingIfNeeded: k) & (wide ? 63 : 31)
    if count == 0 {
      if !wide { a.move(d, d, wide: false) }
      return
    }
    a.shift(digit: digit, d, by: count, wide: wide)
  }

  /// A shift by a register: the count goes through CL (BPF R4), which is
  /// saved in R11 around it.
  private mutating func shift(_ digit: UInt8, _ d: X86Register, by x: X86Register, wide: Bool) {
    let saved = JITRegisters.address
    let value = JITRegisters.scratch
    a.move(saved, .rcx)
    a.move(value, d)
    if x != .rcx { a.move(.rcx, x) }
    a.shiftByCL(digit: digit, value, wide: wide)
    if !wide { a.move(value, value, wide: false) }
    a.move(.rcx, saved)
    a.move(d, value)
  }

  /// `div`, `mod`, `sdiv`, `smod`: the divisor in R11, RAX/RDX saved on the
  /// native stack around the x86 division.
  private mutating func divide(_ s: Slot, _ d: X86Register, _ x: X86Register, _ k: Int32) {
    guard let (kind, operands) = s.operation.division else {
      preconditionFailure("\(s.operation) is not a division")
    }
    let wide = operands.wide
    let signed = kind.signed
    let modulo = kind.modulo
    let divisor = JITRegisters.address
    if operands.register {
      a.move(divisor, x)
    } else {
      a.move(divisor, immediate: UInt64(bitPattern: Int64(k)))
    }
    let zero = a.makeLabel()
    let done = a.makeLabel()
    a.test(divisor, divisor, wide: wide)
    a.jump(.equal, to: zero)
    if signed {
      let normal = a.makeLabel()
      a.arithmetic(digit: 7, divisor, immediate: -1, wide: wide)
      a.jump(.notEqual, to: normal)
      if modulo {
        a.move(d, immediate: 0)
      } else {
        a.unary(digit: 3, d, wide: wide)
      }
      a.jump(to: done)
      a.bind(normal)
    }
    a.push(.rax)
    a.push(.rdx)
    a.move(.rax, d)
    if signed {
      if wide { a.emit(0x48) }
      a.emit(0x99)  // cqo / cdq
    } else {
      a.arithmetic(0x31, .rdx, .rdx, wide: false)
    }
    a.unary(digit: signed ? 7 : 6, divisor, wide: wide)
    a.move(divisor, modulo ? .rdx : .rax)
    a.pop(.rdx)
    a.pop(.rax)
    a.move(d, divisor)
    a.jump(to: done)
    a.bind(zero)
    if !modulo {
      a.move(d, immediate: 0)
    } else if !wide {
      a.move(d, d, wide: false)
    }
    a.bind(done)
  }
}
