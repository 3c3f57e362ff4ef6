import BPF

/// `csum_diff` and the two routines the inline packet helpers call
/// (``JITCompiler/PacketRoutines``), emitted once per program after its
/// body: an overlap-safe `memmove` and `csum_partial`.
extension JITCompiler {
  /// `csum_diff(from, from_size, to, to_size, seed)`, as ``Checksum/difference(from:to:seed:)``.
  mutating func emitChecksumDifference(
    _ index: Int, _ routines: PacketRoutines, fail: CodeLabel, finish: CodeLabel
  ) {
    let r = JITRegisters.self
    a.move(.rsi, .rsi, wide: false)
    a.move(.rcx, .rcx, wide: false)
    for (buffer, size) in [(X86Register.rdi, X86Register.rsi), (.rdx, .rcx)] {
      let skip = a.makeLabel()
      a.test(size, size, wide: true)
      a.jump(.equal, to: skip)
      emitRangeCheck(buffer, count: size, fail: fail)
      a.bind(skip)
    }
    a.memoryForm(
      [0x8d], wide: true, reg: r.address.number, base: .rsi, index: .rcx,
      displacement: 0)
    emitCharge(index)
    func partial(_ buffer: X86Register, _ size: X86Register) {
      a.move(r.address, buffer)
      a.add(r.address, memory: r.context, JITContext.arena)
      a.move(r.scratch, size)
      a.call(routines.partial)
    }
    let (fromOnly, noFrom, seedOnly, fold) = (
      a.makeLabel(), a.makeLabel(), a.makeLabel(), a.makeLabel()
    )
    a.test(.rsi, .rsi, wide: true)
    a.jump(.equal, to: noFrom)
    a.test(.rcx, .rcx, wide: true)
    a.jump(.equal, to: fromOnly)
    // Both: csum_add(partial(to, seed), ~partial(from, 0)).
    a.move(.rax, .r8, wide: false)
    partial(.rdx, .rcx)
    a.push(.rax)
    a.move(.rax, immediate: 0)
    partial(.rdi, .rsi)
    a.unary(digit: 2, .rax, wide: false)
    a.pop(.rdx)
    a.arithmetic(0x01, .rax, .rdx, wide: false)
    a.arithmetic(digit: 2, .rax, immediate: 0, wide: false)
    a.jump(to: fold)
    // From only: ~partial(from, ~seed).
    a.bind(fromOnly)
    a.move(.rax, .r8, wide: false)
    a.unary(digit: 2, .rax, wide: false)
    partial(.rdi, .rsi)
    a.unary(digit: 2, .rax, wide: false)
    a.jump(to: fold)
    // To only: partial(to, seed); neither: the seed.
    a.bind(noFrom)
    a.move(.rax, .r8, wide: false)
    a.test(.rcx, .rcx, wide: true)
    a.jump(.equal, to: seedOnly)
    partial(.rdx, .rcx)
    a.bind(seedOnly)
    // from32to16: (x + ror(x, 16)) >> 16.
    a.bind(fold)
    a.move(.rdx, .rax, wide: false)
    a.shift(digit: 1, .rdx, by: 16, wide: false)
    a.arithmetic(0x01, .rax, .rdx, wide: false)
    a.shift(digit: 5, .rax, by: 16, wide: false)
    a.jump(to: finish)
  }

  /// The routines, once per program that calls a packet helper.
  mutating func emitPacketRoutines() {
    guard let routines = packetRoutines else { return }
    let r = JITRegisters.self
    // memmove: forward unless the target starts inside the source.
    let forward = a.makeLabel()
    a.bind(routines.move)
    a.arithmetic(0x39, .rdi, .rsi, wide: true)
    a.jump(.belowOrEqual, to: forward)
    a.memoryForm(
      [0x8d], wide: true, reg: r.address.number, base: .rsi, index: .rcx,
      displacement: 0)
    a.arithmetic(0x39, .rdi, r.address, wide: true)
    a.jump(.aboveOrEqual, to: forward)
    a.memoryForm(
      [0x8d], wide: true, reg: X86Register.rsi.number, base: .rsi, index: .rcx,
      displacement: -1)
    a.memoryForm(
      [0x8d], wide: true, reg: X86Register.rdi.number, base: .rdi, index: .rcx,
      displacement: -1)
    a.emit(0xfd, 0xf3, 0xa4, 0xfc)  // std; rep movsb; cld
    a.ret()
    a.bind(forward)
    a.emit(0xf3, 0xa4)  // rep movsb
    a.ret()
    // csum_partial: little-endian 32-bit words summed in 64 bits (no
    // count below 2^32 overflows it), a short tail zero-padded, folded.
    let (words, tail, even, add, fold, folded) = (
      a.makeLabel(), a.makeLabel(), a.makeLabel(), a.makeLabel(), a.makeLabel(), a.makeLabel()
    )
    a.bind(routines.partial)
    a.push(.rdx)
    a.move(.rax, .rax, wide: false)
    a.bind(words)
    a.arithmetic(digit: 7, r.scratch, immediate: 4, wide: true)
    a.jump(.below, to: tail)
    a.memoryForm(
      [0x8b], wide: false, reg: X86Register.rdx.number, base: r.address,
      displacement: 0)
    a.arithmetic(0x01, .rax, .rdx, wide: true)
    a.arithmetic(digit: 0, r.address, immediate: 4, wide: true)
    a.arithmetic(digit: 5, r.scratch, immediate: 4, wide: true)
    a.jump(to: words)
    a.bind(tail)
    a.arithmetic(0x31, .rdx, .rdx, wide: false)
    a.test(r.scratch, immediate: 1, wide: false)
    a.jump(.equal, to: even)
    // The odd last byte, shifted to bits 16-23 when it is the third.
    a.memoryForm(
      [0x0f, 0xb6], wide: false, reg: X86Register.rdx.number, base: r.address,
      index: r.scratch, displacement: -1)
    a.test(r.scratch, immediate: 2, wide: false)
    a.jump(.equal, to: add)
    a.shift(digit: 4, .rdx, by: 16, wide: false)
    a.bind(even)
    a.test(r.scratch, immediate: 2, wide: false)
    a.jump(.equal, to: add)
    a.memoryForm(
      [0x0f, 0xb7], wide: false, reg: r.scratch.number, base: r.address,
      displacement: 0)
    a.arithmetic(0x09, .rdx, r.scratch, wide: false)
    a.bind(add)
    a.arithmetic(0x01, .rax, .rdx, wide: true)
    a.bind(fold)
    a.move(.rdx, .rax)
    a.shift(digit: 5, .rdx, by: 32, wide: true)
    a.jump(.equal, to: folded)
    a.move(.rax, .rax, wide: false)
    a.arithmetic(0x01, .rax, .rdx, wide: true)
    a.jump(to: fold)
    a.bind(folded)
    a.pop(.rdx)
    a.ret()
  }
}
