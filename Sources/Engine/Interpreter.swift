extension Machine {
  /// The interpreter loop: one switch over the prepared operation byte.
  func interpret(_ program: PreparedProgram) throws(ExecutionError) -> UInt64 {
    let r = registers
    let memory = MemoryView(addressSpace)
    let budget = configuration.instructionBudget
    var code = program.slots
    var pc = 0
    var depth = 0
    var executed = 0

    while true {
      let s = code[pc]
      pc &+= 1
      executed &+= 1
      let d = Int(truncatingIfNeeded: s.dst)
      let k = UInt64(bitPattern: s.immediate)
      switch s.operation {
      case .add64K: r[d] = r[d] &+ k
      case .add64X: r[d] = r[d] &+ r[Int(s.src)]
      case .sub64K: r[d] = r[d] &- k
      case .sub64X: r[d] = r[d] &- r[Int(s.src)]
      case .mul64K: r[d] = r[d] &* k
      case .mul64X: r[d] = r[d] &* r[Int(s.src)]
      case .div64K: r[d] = k == 0 ? 0 : r[d] / k
      case .div64X:
        let x = r[Int(s.src)]
        r[d] = x == 0 ? 0 : r[d] / x
      case .sdiv64K: r[d] = Arithmetic.sdiv64(r[d], k)
      case .sdiv64X: r[d] = Arithmetic.sdiv64(r[d], r[Int(s.src)])
      case .or64K: r[d] |= k
      case .or64X: r[d] |= r[Int(s.src)]
      case .and64K: r[d] &= k
      case .and64X: r[d] &= r[Int(s.src)]
      case .lsh64K: r[d] = r[d] &<< k
      case .lsh64X: r[d] = r[d] &<< r[Int(s.src)]
      case .rsh64K: r[d] = r[d] &>> k
      case .rsh64X: r[d] = r[d] &>> r[Int(s.src)]
      case .neg64: r[d] = 0 &- r[d]
      case .mod64K: if k != 0 { r[d] = r[d] % k }
      case .mod64X:
        let x = r[Int(s.src)]
        if x != 0 { r[d] = r[d] % x }
      case .smod64K: r[d] = Arithmetic.smod64(r[d], k)
      case .smod64X: r[d] = Arithmetic.smod64(r[d], r[Int(s.src)])
      case .xor64K: r[d] ^= k
      case .xor64X: r[d] ^= r[Int(s.src)]
      case .mov64K: r[d] = k
      case .mov64X: r[d] = r[Int(s.src)]
      case .movsx8To64: r[d] = UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: r[Int(s.src)])))
      case .movsx16To64:
        r[d] = UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: r[Int(s.src)])))
      case .movsx32To64:
        r[d] = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: r[Int(s.src)])))
      case .arsh64K: r[d] = UInt64(bitPattern: Int64(bitPattern: r[d]) &>> k)
      case .arsh64X: r[d] = UInt64(bitPattern: Int64(bitPattern: r[d]) &>> r[Int(s.src)])

      case .add32K: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] &+ k))
      case .add32X: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] &+ r[Int(s.src)]))
      case .sub32K: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] &- k))
      case .sub32X: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] &- r[Int(s.src)]))
      case .mul32K: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] &* k))
      case .mul32X: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] &* r[Int(s.src)]))
      case .div32K: r[d] = Arithmetic.div32(r[d], k)
      case .div32X: r[d] = Arithmetic.div32(r[d], r[Int(s.src)])
      case .sdiv32K: r[d] = Arithmetic.sdiv32(r[d], k)
      case .sdiv32X: r[d] = Arithmetic.sdiv32(r[d], r[Int(s.src)])
      case .or32K: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] | k))
      case .or32X: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] | r[Int(s.src)]))
      case .and32K: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] & k))
      case .and32X: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] & r[Int(s.src)]))
      case .lsh32K:
        r[d] = UInt64(UInt32(truncatingIfNeeded: r[d]) &<< UInt32(truncatingIfNeeded: k))
      case .lsh32X:
        r[d] = UInt64(
          UInt32(truncatingIfNeeded: r[d]) &<< UInt32(truncatingIfNeeded: r[Int(s.src)]))
      case .rsh32K:
        r[d] = UInt64(UInt32(truncatingIfNeeded: r[d]) &>> UInt32(truncatingIfNeeded: k))
      case .rsh32X:
        r[d] = UInt64(
          UInt32(truncatingIfNeeded: r[d]) &>> UInt32(truncatingIfNeeded: r[Int(s.src)]))
      case .neg32: r[d] = UInt64(0 &- UInt32(truncatingIfNeeded: r[d]))
      case .mod32K: r[d] = Arithmetic.mod32(r[d], k)
      case .mod32X: r[d] = Arithmetic.mod32(r[d], r[Int(s.src)])
      case .smod32K: r[d] = Arithmetic.smod32(r[d], k)
      case .smod32X: r[d] = Arithmetic.smod32(r[d], r[Int(s.src)])
      case .xor32K: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] ^ k))
      case .xor32X: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d] ^ r[Int(s.src)]))
      case .mov32K: r[d] = UInt64(UInt32(truncatingIfNeeded: k))
      case .mov32X: r[d] = UInt64(UInt32(truncatingIfNeeded: r[Int(s.src)]))
      case .movsx8To32:
        r[d] = UInt64(UInt32(bitPattern: Int32(Int8(truncatingIfNeeded: r[Int(s.src)]))))
      case .movsx16To32:
        r[d] = UInt64(UInt32(bitPattern: Int32(Int16(truncatingIfNeeded: r[Int(s.src)]))))
      case .arsh32K:
        r[d] = UInt64(
          UInt32(bitPattern: Int32(truncatingIfNeeded: r[d]) &>> Int32(truncatingIfNeeded: k & 31)))
      case .arsh32X:
        r[d] = UInt64(
          UInt32(
            bitPattern: Int32(truncatingIfNeeded: r[d])
              &>> Int32(truncatingIfNeeded: r[Int(s.src)] & 31)))

      case .toLittle16: r[d] = r[d] & 0xffff
      case .toLittle32: r[d] = r[d] & 0xffff_ffff
      case .toLittle64: break
      case .swap16: r[d] = UInt64(UInt16(truncatingIfNeeded: r[d]).byteSwapped)
      case .swap32: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d]).byteSwapped)
      case .swap64: r[d] = r[d].byteSwapped

      case .ja:
        let target = Int(s.offset)
        if target < pc && executed >= budget { throw fail(budgetExceeded(pc, budget), executed) }
        pc = target
      case .jeqK: if r[d] == k { pc = try branch(s, pc, executed, budget) }
      case .jeqX: if r[d] == r[Int(s.src)] { pc = try branch(s, pc, executed, budget) }
      case .jgtK: if r[d] > k { pc = try branch(s, pc, executed, budget) }
      case .jgtX: if r[d] > r[Int(s.src)] { pc = try branch(s, pc, executed, budget) }
      case .jgeK: if r[d] >= k { pc = try branch(s, pc, executed, budget) }
      case .jgeX: if r[d] >= r[Int(s.src)] { pc = try branch(s, pc, executed, budget) }
      case .jsetK: if r[d] & k != 0 { pc = try branch(s, pc, executed, budget) }
      case .jsetX: if r[d] & r[Int(s.src)] != 0 { pc = try branch(s, pc, executed, budget) }
      case .jneK: if r[d] != k { pc = try branch(s, pc, executed, budget) }
      case .jneX: if r[d] != r[Int(s.src)] { pc = try branch(s, pc, executed, budget) }
      case .jsgtK:
        if Int64(bitPattern: r[d]) > s.immediate { pc = try branch(s, pc, executed, budget) }
      case .jsgtX:
        if Int64(bitPattern: r[d]) > Int64(bitPattern: r[Int(s.src)]) {
          pc = try branch(s, pc, executed, budget)
        }
      case .jsgeK:
        if Int64(bitPattern: r[d]) >= s.immediate { pc = try branch(s, pc, executed, budget) }
      case .jsgeX:
        if Int64(bitPattern: r[d]) >= Int64(bitPattern: r[Int(s.src)]) {
          pc = try branch(s, pc, executed, budget)
        }
      case .jltK: if r[d] < k { pc = try branch(s, pc, executed, budget) }
      case .jltX: if r[d] < r[Int(s.src)] { pc = try branch(s, pc, executed, budget) }
      case .jleK: if r[d] <= k { pc = try branch(s, pc, executed, budget) }
      case .jleX: if r[d] <= r[Int(s.src)] { pc = try branch(s, pc, executed, budget) }
      case .jsltK:
        if Int64(bitPattern: r[d]) < s.immediate { pc = try branch(s, pc, executed, budget) }
      case .jsltX:
        if Int64(bitPattern: r[d]) < Int64(bitPattern: r[Int(s.src)]) {
          pc = try branch(s, pc, executed, budget)
        }
      case .jsleK:
        if Int64(bitPattern: r[d]) <= s.immediate { pc = try branch(s, pc, executed, budget) }
      case .jsleX:
        if Int64(bitPattern: r[d]) <= Int64(bitPattern: r[Int(s.src)]) {
          pc = try branch(s, pc, executed, budget)
        }
      case .jeq32K, .jeq32X, .jgt32K, .jgt32X, .jge32K, .jge32X, .jset32K, .jset32X, .jne32K,
        .jne32X, .jsgt32K, .jsgt32X, .jsge32K, .jsge32X, .jlt32K, .jlt32X, .jle32K, .jle32X,
        .jslt32K, .jslt32X, .jsle32K, .jsle32X:
        if Arithmetic.compare32(s.operation, r[d], r[Int(s.src)], k) {
          pc = try branch(s, pc, executed, budget)
        }

      case .callHelper:
        do {
          r[0] = try callHelper(
            Int32(truncatingIfNeeded: s.immediate), index: pc - 1, executed: executed)
        } catch {
          throw fail(error, executed)
        }
      case .tailCall:
        if executed >= budget { throw fail(budgetExceeded(pc, budget), executed) }
        let next: PreparedProgram?
        do {
          next = try tailCallTarget(index: pc - 1)
        } catch {
          throw fail(error, executed)
        }
        if let next {
          code = next.slots
          pc = 0
        }
      case .callRegister:
        do {
          r[0] = try callHelper(
            Int32(truncatingIfNeeded: r[d]), index: pc - 1, executed: executed)
        } catch { throw fail(error, executed) }
      case .callLocal:
        if executed >= budget { throw fail(budgetExceeded(pc, budget), executed) }
        guard depth + 1 < Machine.frameLimit else {
          throw fail(.callDepthExceeded(index: pc - 1, limit: Machine.frameLimit), executed)
        }
        frames[depth] = CallFrame(
          returnIndex: pc, code: code, r6: r[6], r7: r[7], r8: r[8], r9: r[9], r10: r[10])
        depth += 1
        r[10] = stackTops[depth]
        pc = Int(s.offset)
      case .exit:
        if depth == 0 {
          executedInstructions = executed
          return r[0]
        }
        depth -= 1
        let frame = frames[depth]
        pc = frame.returnIndex
        code = frame.code
        r[6] = frame.r6
        r[7] = frame.r7
        r[8] = frame.r8
        r[9] = frame.r9
        r[10] = frame.r10

      case .loadByte:
        let a = r[Int(s.src)] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.at(a, 1) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 1, write: false), executed)
        }
        r[d] = UInt64(p.load(as: UInt8.self))
      case .loadHalf:
        let a = r[Int(s.src)] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.at(a, 2) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 2, write: false), executed)
        }
        r[d] = UInt64(p.loadUnaligned(as: UInt16.self))
      case .loadWord:
        let a = r[Int(s.src)] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.at(a, 4) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 4, write: false), executed)
        }
        r[d] = UInt64(p.loadUnaligned(as: UInt32.self))
      case .loadDouble:
        let a = r[Int(s.src)] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.at(a, 8) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 8, write: false), executed)
        }
        r[d] = p.loadUnaligned(as: UInt64.self)
      case .loadSignedByte:
        let a = r[Int(s.src)] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.at(a, 1) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 1, write: false), executed)
        }
        r[d] = UInt64(bitPattern: Int64(p.load(as: Int8.self)))
      case .loadSignedHalf:
        let a = r[Int(s.src)] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.at(a, 2) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 2, write: false), executed)
        }
        r[d] = UInt64(bitPattern: Int64(p.loadUnaligned(as: Int16.self)))
      case .loadSignedWord:
        let a = r[Int(s.src)] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.at(a, 4) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 4, write: false), executed)
        }
        r[d] = UInt64(bitPattern: Int64(p.loadUnaligned(as: Int32.self)))
      case .storeImmediateByte:
        let a = r[d] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.writable(a, 1) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 1, write: true), executed)
        }
        p.storeBytes(of: UInt8(truncatingIfNeeded: k), as: UInt8.self)
      case .storeImmediateHalf:
        let a = r[d] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.writable(a, 2) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 2, write: true), executed)
        }
        p.storeBytes(of: UInt16(truncatingIfNeeded: k), as: UInt16.self)
      case .storeImmediateWord:
        let a = r[d] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.writable(a, 4) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 4, write: true), executed)
        }
        p.storeBytes(of: UInt32(truncatingIfNeeded: k), as: UInt32.self)
      case .storeImmediateDouble:
        let a = r[d] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.writable(a, 8) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 8, write: true), executed)
        }
        p.storeBytes(of: k, as: UInt64.self)
      case .storeByte:
        let a = r[d] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.writable(a, 1) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 1, write: true), executed)
        }
        p.storeBytes(of: UInt8(truncatingIfNeeded: r[Int(s.src)]), as: UInt8.self)
      case .storeHalf:
        let a = r[d] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.writable(a, 2) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 2, write: true), executed)
        }
        p.storeBytes(of: UInt16(truncatingIfNeeded: r[Int(s.src)]), as: UInt16.self)
      case .storeWord:
        let a = r[d] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.writable(a, 4) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 4, write: true), executed)
        }
        p.storeBytes(of: UInt32(truncatingIfNeeded: r[Int(s.src)]), as: UInt32.self)
      case .storeDouble:
        let a = r[d] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.writable(a, 8) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 8, write: true), executed)
        }
        p.storeBytes(of: r[Int(s.src)], as: UInt64.self)

      case .atomicAdd32, .atomicOr32, .atomicAnd32, .atomicXor32, .atomicFetchAdd32,
        .atomicFetchOr32, .atomicFetchAnd32, .atomicFetchXor32, .atomicExchange32,
        .atomicCompareExchange32:
        let a = r[d] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.writable(a, 4) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 4, write: true), executed)
        }
        Arithmetic.atomic(s.operation.atomicKind, UInt32.self, p, r, Int(s.src))
      case .atomicAdd64, .atomicOr64, .atomicAnd64, .atomicXor64, .atomicFetchAdd64,
        .atomicFetchOr64, .atomicFetchAnd64, .atomicFetchXor64, .atomicExchange64,
        .atomicCompareExchange64:
        let a = r[d] &+ UInt64(bitPattern: Int64(s.offset))
        guard let p = memory.writable(a, 8) else {
          throw fail(.memoryFault(index: pc - 1, address: a, size: 8, write: true), executed)
        }
        Arithmetic.atomic(s.operation.atomicKind, UInt64.self, p, r, Int(s.src))

      case .loadImmediate64:
        r[d] = k
        pc &+= 1
      case .packetLoadAbsoluteByte, .packetLoadAbsoluteHalf, .packetLoadAbsoluteWord,
        .packetLoadIndirectByte, .packetLoadIndirectHalf, .packetLoadIndirectWord:
        guard let value = legacyPacketLoad(s, r, memory) else {
          executedInstructions = executed
          return 0
        }
        r[0] = value
      case .trap:
        throw fail(.fellOffEnd(index: Int(s.offset)), executed)
      }
    }
  }

  /// Records the instruction count of a failed run and passes the error on.
  private func fail(_ error: ExecutionError, _ executed: Int) -> ExecutionError {
    executedInstructions = executed
    return error
  }

  @inline(__always)
  private func branch(_ s: Slot, _ pc: Int, _ executed: Int, _ budget: Int) throws(ExecutionError)
    -> Int
  {
    let target = Int(s.offset)
    if target < pc && executed >= budget { throw fail(budgetExceeded(pc, budget), executed) }
    return target
  }

  private func budgetExceeded(_ pc: Int, _ budget: Int) -> ExecutionError {
    .instructionBudgetExceeded(index: pc - 1, budget: budget)
  }

  /// `ld_abs`/`ld_ind`: a big-endian load from the run's packet into R0, or
  /// nil (the kernel then ends the program with R0 = 0) when out of bounds.
  func legacyPacketLoad(
    _ s: Slot, _ r: UnsafeMutablePointer<UInt64>, _ memory: MemoryView
  ) -> UInt64? {
    let size: Int
    switch s.operation {
    case .packetLoadAbsoluteByte, .packetLoadIndirectByte: size = 1
    case .packetLoadAbsoluteHalf, .packetLoadIndirectHalf: size = 2
    default: size = 4
    }
    let base = s.operation.isIndirectPacketLoad ? UInt32(truncatingIfNeeded: r[Int(s.src)]) : 0
    let offset = Int64(Int32(bitPattern: base &+ UInt32(truncatingIfNeeded: s.immediate)))
    let (start, end) = legacyPacket
    guard offset >= 0, UInt64(offset) + UInt64(size) <= end &- start,
      let p = memory.at(start + UInt64(offset), UInt64(size))
    else { return nil }
    switch size {
    case 1: return UInt64(p.load(as: UInt8.self))
    case 2: return UInt64(UInt16(bigEndian: p.loadUnaligned(as: UInt16.self)))
    default: return UInt64(UInt32(bigEndian: p.loadUnaligned(as: UInt32.self)))
    }
  }
}
