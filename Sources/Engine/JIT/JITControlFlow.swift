/// Jumps, calls (helpers, `callx`, bpf-to-bpf, tail calls) and `exit`.
extension JITCompiler {
  /// A forward jump brings its target's lag (``enter(_:at:)``), a cold
  /// one through an ``Edge`` (the fall-through keeps its lag); a backward
  /// jump checks the budget, with the count exact, only when taken.
  mutating func emitJump(_ s: Slot, at index: Int) {
    let target = Int(s.offset)
    let label = slotLabels[target]
    if target > index {
      if s.operation != .ja, counting.coldJumps.contains(index) {
        let taken = edge(to: label, lag: pending)
        a.jump(compare(s), to: taken)
        return
      }
      flush(to: entryLag(label, at: target))
      if s.operation == .ja {
        a.jump(to: label)
      } else {
        a.jump(compare(s), to: label)
      }
      return
    }
    flush()
    guard s.operation != .ja else {
      checkBudget(index)
      a.jump(to: label)
      return
    }
    let condition = compare(s)
    let skip = a.makeLabel()
    a.jump(condition.inverse, to: skip)
    checkBudget(index)
    if provenBody, let cursor = records.endChecks[index] {
      emitRecordsEndCheck(cursor, target: target)
    }
    a.jump(to: label)
    a.bind(skip)
  }

  /// Emits the comparison of a conditional jump; returns the x86 condition.
  private mutating func compare(_ s: Slot) -> Condition {
    guard let (test, operands) = s.operation.conditionalJump else {
      preconditionFailure("\(s.operation) is not a conditional jump")
    }
    let wide = operands.wide
    let d = JITRegisters.bpf(s.dst)
    let x = JITRegisters.bpf(s.src)
    let k = Int32(truncatingIfNeeded: s.immediate)
    if test == .anyBitSet {
      if operands.register { a.test(d, x, wide: wide) } else { a.test(d, immediate: k, wide: wide) }
      return .notEqual
    }
    if operands.register {
      a.arithmetic(0x39, d, x, wide: wide)
    } else {
      a.arithmetic(digit: 7, d, immediate: k, wide: wide)
    }
    switch test {
    case .equal: return .equal
    case .notEqual: return .notEqual
    case .greater: return .above
    case .greaterOrEqual: return .aboveOrEqual
    case .less: return .below
    case .lessOrEqual: return .belowOrEqual
    case .signedGreater: return .greater
    case .signedGreaterOrEqual: return .greaterOrEqual
    case .signedLess: return .less
    case .signedLessOrEqual: return .lessOrEqual
    case .anyBitSet: return .notEqual
    }
  }

  mutating func emitCall(_ s: Slot, at index: Int) {
    let r = JITRegisters.self
    flush()
    switch s.operation {
    case .exit:
      if let depth = localCalls.frameDepths?[index] {
        // Proven (``FrameDepths``): frame 0 leaves the run, a deeper one
        // returns to its call site.
        if depth == 0 { a.jump(to: frameExit) } else { a.ret() }
        return
      }
      if !localCalls.calleeExits.contains(index) {
        a.compare(memory: r.context, JITContext.depth, immediate: 0)
        a.jump(.equal, to: epilogue)
      }
      a.ret()
    case .callHelper:
      let (slow, done) = (a.makeLabel(), a.makeLabel())
      switch emitInlineHelper(Int32(truncatingIfNeeded: s.immediate), index, slow: slow, done: done)
      {
      case .complete:
        a.bind(done)
        return
      case .withFallback: a.bind(slow)
      case .none: break
      }
      callBack(JITBridge.helper, saving: 0...5) { a in
        a.move(.rsi, immediate: UInt64(bitPattern: s.immediate))
        a.move(.rdx, immediate: UInt64(index))
      }
      restoreAfterHelper()
      a.bind(done)
    case .callRegister:
      callBack(JITBridge.helper, saving: 0...5) { a in
        a.move(.rsi, r.bpf(s.dst))
        a.move(.rdx, immediate: UInt64(index))
      }
      restoreAfterHelper()
    case .tailCall:
      checkBudget(index)
      emitTailCall(at: index)
    case .callLocal where localCalls.frameDepths?[index] != nil:
      // Proven (``FrameDepths``): the callee's frame is known, no count.
      checkBudget(index)
      let depth = localCalls.frameDepths![index]!
      let saves = localCalls.registers(callee: Int(s.offset))
      for reg in saves { a.push(reg) }
      a.load(.rbp, r.context, JITContext.stackTops + Int32(8 * (depth + 1)))
      a.call(slotLabels[Int(s.offset)])
      for reg in saves.reversed() { a.pop(reg) }
    case .callLocal:
      checkBudget(index)
      a.load(r.scratch, r.context, JITContext.depth)
      a.arithmetic(digit: 0, r.scratch, immediate: 1, wide: true)
      a.arithmetic(digit: 7, r.scratch, immediate: Int32(Machine.frameLimit), wide: true)
      a.jump(.aboveOrEqual, to: stub(.callDepthExceeded, index))
      a.store(r.scratch, r.context, JITContext.depth)
      let saves = localCalls.registers(callee: Int(s.offset))
      for reg in saves { a.push(reg) }
      a.memoryForm(
        [0x8b], wide: true, reg: X86Register.rbp.number, base: r.context, index: r.scratch,
        scale: 8, displacement: JITContext.stackTops)
      a.call(slotLabels[Int(s.offset)])
      for reg in saves.reversed() { a.pop(reg) }
      a.memoryForm([0x83], wide: true, reg: 5, base: r.context, displacement: JITContext.depth)
      a.emit(1)
    default:
      preconditionFailure("\(s.operation) is not a call")
    }
  }

  /// `bpf_tail_call(ctx, map, index)` as the kernel's x86 JIT emits it
  /// (`emit_bpf_tail_call_indirect`): an index at or past `max_entries`
  /// falls through, so does the 34th tail call of a run; the count rises
  /// before an empty slot is found, which falls through too; else a jump
  /// into the target's body with the registers as they are. Code without
  /// the frame proof (``FrameDepths``) takes the Swift path deeper than
  /// frame 0. The slot's
  /// word comes from the map's ``ProgramSlots`` table. A handle that is
  /// no PROG_ARRAY with a table, a refused tail call (batch runs) and a
  /// program not compiled yet go to the engine's Swift code, which
  /// raises the error or compiles the target and publishes its address.
  mutating func emitTailCall(at index: Int) {
    let r = JITRegisters.self
    let (slow, fallThrough) = (a.makeLabel(), a.makeLabel())
    mapDescriptor(of: r.bpf(2), slow: slow)
    a.compare(memory: r.scratch, 0, immediate: Int32(MapDescriptor.programTable))
    a.jump(.notEqual, to: slow)
    a.compare(memory: r.context, JITContext.tailCallsRefused, immediate: 0)
    a.jump(.notEqual, to: slow)
    if localCalls.frameDepths == nil {
      // Maybe deeper than frame 0: the Swift code picks code that counts
      // the depth (``FrameDepths``).
      a.compare(memory: r.context, JITContext.depth, immediate: 0)
      a.jump(.notEqual, to: slow)
    }
    // The index: R3's low half, below max_entries.
    a.move(r.address, r.bpf(3), wide: false)
    a.compare(r.address, memory: r.scratch, 8)
    a.jump(.aboveOrEqual, to: fallThrough)
    a.load(r.scratch, r.scratch, 24)
    a.memoryForm(
      [0x8b], wide: true, reg: r.address.number, base: r.scratch, index: r.address, scale: 8,
      displacement: 0)
    a.arithmetic(digit: 7, r.address, immediate: Int32(ProgramSlots.notCompiled), wide: true)
    a.jump(.equal, to: slow)
    a.compare(memory: r.context, JITContext.tailCalls, immediate: Int32(Machine.tailCallLimit))
    a.jump(.aboveOrEqual, to: fallThrough)
    a.memoryForm([0x83], wide: true, reg: 0, base: r.context, displacement: JITContext.tailCalls)
    a.emit(1)
    a.test(r.address, r.address, wide: true)
    a.jump(.equal, to: fallThrough)
    a.jump(r.address)
    a.bind(slow)
    callBack(JITBridge.tailCall, saving: 0...5) { a in
      a.move(.rsi, immediate: UInt64(index))
    }
    restore(0...5)
    a.test(r.address, r.address, wide: true)
    a.jump(.equal, to: fallThrough)
    a.jump(r.address)
    a.bind(fallThrough)
  }

  /// Calls a Swift callback: BPF registers in `saving` go to the machine's
  /// register file (helpers read their arguments there), the counter to
  /// the context; RDI is the context, `arguments` sets RSI/RDX (R10 holds
  /// the register file). The result is left in R11; a callback that failed
  /// set the status, and the code leaves.
  mutating func callBack(
    _ function: UInt64, saving: ClosedRange<UInt8>, arguments: (inout X86Assembler) -> Void
  ) {
    let r = JITRegisters.self
    a.load(r.scratch, r.context, JITContext.registers)
    for n in saving { a.store(r.bpf(n), r.scratch, Int32(n) * 8) }
    a.store(r.counter, r.context, JITContext.executed)
    arguments(&a)
    a.move(.rdi, r.context)
    a.move(.rax, immediate: function)
    a.call(.rax)
    a.load(r.counter, r.context, JITContext.executed)
    a.move(r.address, .rax)
    a.compare(memory: r.context, JITContext.status, immediate: 0)
    a.jump(.notEqual, to: callbackFailed)
  }

  /// Reloads BPF registers from the machine's register file.
  mutating func restore(_ range: ClosedRange<UInt8>) {
    let r = JITRegisters.self
    a.load(r.scratch, r.context, JITContext.registers)
    for n in range { a.load(r.bpf(n), r.scratch, Int32(n) * 8) }
  }

  private mutating func restoreAfterHelper() {
    restore(1...5)
    a.move(.rax, JITRegisters.address)
  }
}
