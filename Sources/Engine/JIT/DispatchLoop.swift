/// How a driver calls a per-packet program (the talk's experiment).
public enum CallStyle: String, CaseIterable, Sendable, Codable {
  /// A direct `call rel32`: what the kernel's BPF dispatcher (5.6) turns
  /// the driver's call into.
  case direct
  /// `call rax` through a plain function pointer.
  case indirect
  /// An indirect call through a retpoline thunk (the kernel's
  /// `__x86_indirect_thunk_rax`): a kernel with Spectre v2 mitigations and
  /// no dispatcher.
  case retpoline
}

/// A small machine-code driver placed beside a copy of a compiled
/// program, that calls it once per context record, as a NIC driver calls
/// its XDP program: R1 = each record in turn (and R2 a constant, the batch
/// size for the batch form). Only for measuring call styles: no verdict is
/// read, tail calls are not counted per call.
public final class DispatchLoop {
  private let memory: ExecutableMemory
  private let machine: Machine
  private let program: PreparedProgram

  private typealias Driver =
    @convention(c) (UnsafeMutableRawPointer, UnsafePointer<UInt64>, Int) -> Void

  /// Compiles `program` (if needed) and emits the driver for `style`,
  /// which passes `r2` in R2 on every call (the batch size for the batch
  /// form; helpers leave other values in the register file).
  ///
  /// - Throws: ``JITError`` when the program cannot be compiled or mapped.
  public init(machine: Machine, program: PreparedProgram, style: CallStyle, r2: Int32 = 0)
    throws(JITError)
  {
    guard let code = machine.compiledCode(for: program) else {
      throw program.compileFailure ?? .unsupportedArchitecture
    }
    self.machine = machine
    self.program = program
    var a = X86Assembler()
    var ripFixup: Int?
    let target = a.makeLabel()
    let thunk = a.makeLabel()
    let loop = a.makeLabel()
    let done = a.makeLabel()
    // driver(context, records, count): RBX = i, R12 = context,
    // R13 = records, R14 = count, R15 = the register file.
    for reg in [X86Register.rbx, .r12, .r13, .r14, .r15] { a.push(reg) }
    a.move(.r12, .rdi)
    a.move(.r13, .rsi)
    a.move(.r14, .rdx)
    a.move(.rbx, immediate: 0)
    a.load(.r15, .r12, JITContext.registers)
    a.bind(loop)
    a.arithmetic(0x39, .rbx, .r14, wide: true)
    a.jump(.aboveOrEqual, to: done)
    a.memoryForm([0x8b], wide: true, reg: 0, base: .r13, index: .rbx, scale: 8, displacement: 0)
    a.store(.rax, .r15, 8)
    a.store(immediate: r2, .r15, 16)
    a.move(.rdi, .r12)
    switch style {
    case .direct:
      a.call(target)
    case .indirect, .retpoline:
      // The target's address, as a function pointer the driver loads.
      a.emit(0x48, 0x8d, 0x05)  // lea rax, [rip + target]
      a.emit32(0)
      let fixup = a.bytes.count
      if style == .indirect { a.call(.rax) } else { a.call(thunk) }
      ripFixup = fixup
    }
    a.compare(memory: .r12, JITContext.status, immediate: 0)
    a.jump(.notEqual, to: done)
    a.arithmetic(digit: 0, .rbx, immediate: 1, wide: true)
    a.jump(to: loop)
    a.bind(done)
    for reg in [X86Register.r15, .r14, .r13, .r12, .rbx] { a.pop(reg) }
    a.ret()
    // The retpoline: the return stack predicts the speculative path into
    // the pause loop; the real return goes to RAX.
    a.bind(thunk)
    let capture = a.makeLabel()
    let spin = a.makeLabel()
    a.call(capture)
    a.bind(spin)
    a.emit(0xf3, 0x90, 0x0f, 0xae, 0xe8)  // pause; lfence
    a.jump(to: spin)
    a.bind(capture)
    a.emit(0x48, 0x89, 0x04, 0x24)  // mov [rsp], rax
    a.ret()
    while a.bytes.count % 16 != 0 { a.emit(0xcc) }
    a.bind(target)
    let start = a.bytes.count
    a.emit(contentsOf: code.bytes)
    guard var bytes = a.finish() else { throw .unresolvedLabel(program: program.name) }
    if let fixup = ripFixup {
      let distance = Int32(start - fixup)
      withUnsafeBytes(of: distance.littleEndian) { raw in
        for k in 0..<4 { bytes[fixup - 4 + k] = raw[k] }
      }
    }
    memory = try ExecutableMemory(bytes)
  }

  /// Calls the program once per record (R1 = the record).
  ///
  /// - Throws: ``ExecutionError`` when a call stopped with an error.
  public func run(records: [UInt64]) throws(ExecutionError) {
    let context = machine.armContext()
    let driver = unsafeBitCast(memory.base, to: Driver.self)
    records.withUnsafeBufferPointer { driver(context, $0.baseAddress!, $0.count) }
    _ = try machine.finishCompiledRun(0)
  }
}

extension X86Assembler {
  mutating func emit(contentsOf code: [UInt8]) {
    for byte in code { emit(byte) }
  }
}
