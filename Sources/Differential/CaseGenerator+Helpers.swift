import BPF

/// Helper calls, bpf-to-bpf calls, and (unrestricted) what only the
/// engines are compared on.
extension CaseGenerator {
  /// `csum_diff` over two stack ranges (any sizes they hold, 0 included;
  /// sometimes a NULL `from` of size 0).
  mutating func checksum(_ function: inout FunctionBuilder) {
    let from = choices.int(1...min(64, function.area))
    let to = choices.int(1...min(64, function.area))
    let fromSize = choices.int(0...from)
    if fromSize == 0 && choices.chance(50) {
      function.emit(.move(.r1, immediate: 0))
    } else {
      function.emit(pointer(.r1, -from))
    }
    function.emit(.move(.r2, immediate: Int32(fromSize)))
    function.emit(pointer(.r3, -to))
    function.emit(.move(.r4, immediate: Int32(choices.int(0...to))))
    function.emit(.move(.r5, choices.pick(function.scalars)))
    function.emit(.call(helper: HelperFunction.checksumDiff.rawValue))
  }

  /// Formats the kernel accepts (and, unrestricted, any bytes).
  static let formats = [
    "%d", "%u|%x", "%lld %llu", "%5d|%-5x|%05u", "%+d % d", "%c%c", "%s!", "%lx", "%llx %i",
    "%%d=%d", "%X", "%-3s|%4s", "%08llx", "v=%li",
  ]

  /// `trace_printk`: the format at r10 - 48 (NUL-terminated), `%s`
  /// arguments pointing at "ok" at r10 - 8; its return value (the length
  /// `bstr_printf` gives) is compared with the kernel's.
  mutating func trace(_ function: inout FunctionBuilder) {
    var format = Array(choices.pick(Self.formats).utf8)
    if flavor == .unrestricted && choices.chance(30) {
      format = (0..<choices.int(0...24)).map { _ in choices.byte() }
    }
    format = Array(format.prefix(39)) + [0]
    let padded = format + [UInt8](repeating: 0, count: (8 - format.count % 8) % 8)
    for start in stride(from: 0, to: padded.count, by: 8) {
      let word = padded[start..<start + 8].enumerated().reduce(UInt64(0)) {
        $0 | UInt64($1.element) << (8 * UInt64($1.offset))
      }
      function.emit(Instruction.loadImmediate64(.r1, word))
      function.emit(.store(.doubleWord, .r1, to: .r10, offset: Int16(-48 + start)))
    }
    function.emit(.store(.doubleWord, immediate: 0x6b6f, to: .r10, offset: -8))
    // A string conversion gets a pointer to "ok", every other one a
    // scalar: an address printed as a number differs between kernels,
    // frames and forms, and compares nothing.
    let strings = Self.stringConversions(in: format)
    for (number, register) in [Register.r3, .r4, .r5].enumerated() {
      if strings.contains(number) {
        function.emit(pointer(register, -8))
      } else {
        function.emit(.move(register, choices.pick(function.scalars)))
      }
    }
    function.emit(pointer(.r1, -48))
    let size = flavor == .unrestricted && choices.chance(10) ? choices.int(0...48) : format.count
    function.emit(.move(.r2, immediate: Int32(size)))
    function.emit(.call(helper: HelperFunction.tracePrintk.rawValue))
  }

  /// Which of the (at most three) conversions of `format` take strings
  /// (`%s`, `%pks`, `%pus`), by position.
  static func stringConversions(in format: [UInt8]) -> Set<Int> {
    var result: Set<Int> = []
    var conversion = 0
    var index = 0
    while index < format.count, format[index] != 0 {
      defer { index += 1 }
      guard format[index] == UInt8(ascii: "%") else { continue }
      index += 1
      guard index < format.count, format[index] != UInt8(ascii: "%") else { continue }
      while index < format.count, "0+- 123456789l".utf8.contains(format[index]) { index += 1 }
      if index < format.count, format[index] == UInt8(ascii: "s") { result.insert(conversion) }
      if index + 2 < format.count, format[index] == UInt8(ascii: "p"),
        format[index + 2] == UInt8(ascii: "s")
      {
        result.insert(conversion)
      }
      conversion += 1
    }
    return result
  }

  /// `redirect(ifindex, flags)` or `redirect_map(devmap, key, flags)`.
  mutating func redirect(_ function: inout FunctionBuilder) {
    let unrestricted = flavor == .unrestricted
    if choices.chance(50) {
      function.emit(.move(.r1, immediate: Int32(choices.int(0...6))))
      let flags = unrestricted && choices.chance(30) ? choices.interesting() : 0
      function.emit(Instruction.loadImmediate64(.r2, flags))
      function.emit(.call(helper: HelperFunction.redirect.rawValue))
    } else {
      function.emit(
        Instruction.loadImmediate64(.r1, UInt64(GeneratedCase.deviceMap), kind: .mapByIndex))
      function.emit(.move(.r2, immediate: Int32(choices.int(0...5))))
      let flags =
        unrestricted && choices.chance(30)
        ? choices.interesting() : choices.pick([0, 1, 2, 3, 8, 8 | 16] as [UInt64])
      function.emit(Instruction.loadImmediate64(.r3, flags))
      function.emit(.call(helper: HelperFunction.redirectMap.rawValue))
    }
  }

  /// `xdp_adjust_head`, `xdp_adjust_tail`, `xdp_load_bytes` or
  /// `xdp_store_bytes` (main only: they take the context).
  mutating func packetHelper(_ function: inout FunctionBuilder) {
    guard function.isMain else { return checksum(&function) }
    let offsets: [Int32] = [-256, -216, -64, -14, -4, -1, 0, 1, 4, 14, 46, 64, 200, 3520]
    function.emit(.move(.r1, .r6))
    switch choices.int(0...3) {
    case 0:
      function.emit(.move(.r2, immediate: choices.pick(offsets)))
      function.emit(.call(helper: HelperFunction.xdpAdjustHead.rawValue))
    case 1:
      function.emit(.move(.r2, immediate: choices.pick(offsets)))
      function.emit(.call(helper: HelperFunction.xdpAdjustTail.rawValue))
    default:
      let buffer = choices.int(1...64)
      function.emit(.move(.r2, immediate: Int32(choices.int(0...120))))
      function.emit(pointer(.r3, -buffer))
      function.emit(.move(.r4, immediate: Int32(choices.int(1...buffer))))
      function.emit(
        .call(
          helper: choices.chance(50)
            ? HelperFunction.xdpLoadBytes.rawValue : HelperFunction.xdpStoreBytes.rawValue))
    }
  }

  /// A bpf-to-bpf call: R1 a scalar, R2 a pointer to a 64-byte window
  /// of the caller's frame (the main frame's r10 - 128, or a subprogram's
  /// own area or the window it was given).
  mutating func call(_ function: inout FunctionBuilder) {
    guard !function.callees.isEmpty else { return function.emit(arithmetic(count: 1, function)) }
    call(choices.pick(function.callees), &function)
  }

  mutating func call(_ callee: Int, _ function: inout FunctionBuilder) {
    function.emit(.move(.r1, choices.pick(function.scalars)))
    if function.isMain {
      function.emit(pointer(.r2, Self.sharedWindow.offset))
    } else if choices.chance(50) {
      function.emit(.move(.r2, .r6))
    } else {
      function.emit(pointer(.r2, -Self.subprogramArea))
    }
    function.call(callee)
  }

  // MARK: Unrestricted: the engines only.

  /// The clock, random numbers or the CPU id (fixed by the oracle's
  /// configuration, so both engines see the same values).
  mutating func nondeterministic(_ function: inout FunctionBuilder) {
    let helper = choices.pick([
      HelperFunction.ktimeGetNanoseconds, .getPseudoRandomU32, .getSMPProcessorID,
    ])
    function.emit(.call(helper: helper.rawValue))
  }

  /// `ld_abs` or `ld_ind` (byte, half, word) into R0.
  mutating func legacyLoad(_ function: inout FunctionBuilder) {
    let size = choices.pick([AccessSize.byte, .halfWord, .word])
    let immediate = Int32(
      truncatingIfNeeded: choices.chance(70) ? UInt64(choices.int(0...80)) : choices.interesting())
    if choices.chance(50) {
      function.emit(Instruction(opcode: 0x20 | size.rawValue, immediate: immediate))
    } else {
      function.emit(
        Instruction(
          opcode: 0x40 | size.rawValue, src: choices.pick(function.scalars), immediate: immediate))
    }
  }

  /// `callx` with a helper id (often one without arguments).
  mutating func callRegister(_ function: inout FunctionBuilder) {
    let id = choices.pick([5, 7, 8, 6, 23, Int32(choices.int(0...300))])
    function.emit(.move(.r2, immediate: id))
    function.emit(Instruction(opcode: Opcode.callRegister, dst: .r2))
  }

  /// A load or store through a scalar used as a pointer: wherever it
  /// lands, both engines must fault (or not) alike.
  mutating func wildAccess(_ function: inout FunctionBuilder) {
    let base = choices.pick(function.scalarsBesideR0)
    let (size, _) = slot(below: 8)
    let offset = Int16(truncatingIfNeeded: choices.int(-600...600))
    function.emit(access(size, base: base, offset: offset, loadInto: function.scalars, function))
  }

  /// Any 8 bytes as an instruction (the engines must refuse or run it alike).
  mutating func rawInstruction(_ function: inout FunctionBuilder) {
    function.emit(
      Instruction(
        opcode: choices.byte(), dst: Register(rawValue: choices.byte() & 0x0f),
        src: Register(rawValue: choices.byte() & 0x0f),
        offset: Int16(truncatingIfNeeded: choices.int(-4...4)),
        immediate: Int32(truncatingIfNeeded: choices.interesting())))
  }

  /// `tail_call(ctx, jumps, index)` (main only: R1 must be the context).
  mutating func tailCall(_ function: inout FunctionBuilder) {
    guard function.isMain else { return }
    function.emit(.move(.r1, .r6))
    function.emit(
      Instruction.loadImmediate64(.r2, UInt64(GeneratedCase.programMap), kind: .mapByIndex))
    function.emit(.move(.r3, immediate: Int32(choices.int(0...3))))
    function.emit(.call(helper: HelperFunction.tailCall.rawValue))
  }
}
