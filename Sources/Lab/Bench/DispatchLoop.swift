import Engine

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
  /// What every call passes in R2.
  private let r2: Int32

  private typealias Driver =
    @convention(c) (UnsafeMutableRawPointer, UnsafePointer<UInt64>, Int, UInt64, UInt64) -> Void

  /// Records to call the program on, each checked once for whether the
  /// code may trust it (``Machine/trusts(record:)``): made before a timed
  /// run, so the check is outside what is timed.
  public struct Calls {
    /// The records, one per call.
    public let records: [UInt64]
    /// All ones when the engine vouched for every record (the driver then
    /// names each call's record as trusted), else 0 (none named).
    let trust: UInt64
    /// R2 when the engine vouched for the batch of R2 records from every
    /// record (``Machine/trusts(record:count:)``: the driver then names
    /// each call's batch), else 0 (none named).
    let count: UInt64
  }

  /// Compiles `program` (if needed) and emits the driver for `style`,
  /// which passes `r2` in R2 on every call (the batch size for the batch
  /// form; helpers leave other values in the register file).
  ///
  /// - Throws: ``JITError`` when the program cannot be compiled or mapped.
  public init(machine: Machine, program: PreparedProgram, style: CallStyle, r2: Int32 = 0)
    throws(JITError)
  {
    let code = try machine.nativeCode(for: program)
    self.machine = machine
    self.r2 = r2
    memory = try ExecutableMemory(Self.driver(style: style, r2: r2) + code.bytes)
  }

  /// `records` as calls of this loop's program: trusted when the machine
  /// trusts every record now, and each call's batch (R2 records from its
  /// record, when R2 is not 0) when it trusts every such batch (checked
  /// once per distinct record).
  public func calls(_ records: [UInt64]) -> Calls {
    var vouched = Set<UInt64>()
    var batches = r2 > 0
    for record in records where !vouched.contains(record) {
      guard machine.trusts(record: record) else {
        return Calls(records: records, trust: 0, count: 0)
      }
      batches = batches && machine.trusts(record: record, count: UInt64(r2))
      vouched.insert(record)
    }
    return Calls(
      records: records, trust: records.isEmpty ? 0 : ~0,
      count: records.isEmpty || !batches ? 0 : UInt64(r2))
  }

  /// Calls the program once per record (R1 = the record).
  ///
  /// - Throws: ``ExecutionError`` when a call stopped with an error.
  public func run(records: [UInt64]) throws(ExecutionError) {
    try run(calls(records))
  }

  /// Calls the program once per record of `calls`, made by ``calls(_:)``
  /// with nothing run since (a run may close the pages it vouched for).
  ///
  /// - Throws: ``ExecutionError`` when a call stopped with an error.
  public func run(_ calls: Calls) throws(ExecutionError) {
    let driver = unsafeBitCast(memory.base, to: Driver.self)
    try machine.withNativeRun { context in
      calls.records.withUnsafeBufferPointer {
        driver(context, $0.baseAddress!, $0.count, calls.trust, calls.count)
      }
    }
  }

  /// The driver, `driver(context, records, count, trust, batch)`, for code
  /// placed right after it (at ``codeAlignment``). RBX = i, R12 = context,
  /// R13 = records, R14 = count, R15 = trust (all ones or 0); `batch` (R2
  /// or 0) is stored once in ``NativeCode/trustedCountField`` (every call
  /// passes the same R2); each call gets the
  /// context, the record and `r2` as its three C arguments
  /// (``NativeCode``), and the record, masked by the trust, stored in
  /// ``NativeCode/trustedRecordField`` (three instructions, in the empty
  /// program's loop too, so that net figures compare like with like);
  /// after each call it stops if the run's status is set.
  /// Where the program's code starts in the driver's pages: a page
  /// boundary, as in the engine's own ``ExecutableMemory``.
  static let codeAlignment = 4096

  static func driver(style: CallStyle, r2: Int32) -> [UInt8] {
    var a = DriverAssembly()
    a.emit(0x53, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57)  // push rbx, r12-r15
    a.emit(0x49, 0x89, 0xfc)  // mov r12, rdi
    a.emit(0x49, 0x89, 0xf5)  // mov r13, rsi
    a.emit(0x49, 0x89, 0xd6)  // mov r14, rdx
    a.emit(0x49, 0x89, 0xcf)  // mov r15, rcx
    a.emit(0x4d, 0x89, 0x84, 0x24)  // mov [r12 + trusted count], r8
    a.emit32(Int32(NativeCode.trustedCountField))
    a.emit(0xbb)  // mov ebx, 0
    a.emit32(0)
    a.bind(.loop)
    a.emit(0x4c, 0x39, 0xf3)  // cmp rbx, r14
    a.emit(0x0f, 0x83)  // jae done
    a.reference(.done)
    a.emit(0x49, 0x8b, 0xb4, 0xdd)  // mov rsi, [r13 + rbx*8]: R1
    a.emit32(0)
    a.emit(0x48, 0xc7, 0xc2)  // mov rdx, r2: R2
    a.emit32(r2)
    a.emit(0x48, 0x89, 0xf0)  // mov rax, rsi
    a.emit(0x4c, 0x21, 0xf8)  // and rax, r15
    a.emit(0x49, 0x89, 0x84, 0x24)  // mov [r12 + trusted record], rax
    a.emit32(Int32(NativeCode.trustedRecordField))
    a.emit(0x4c, 0x89, 0xe7)  // mov rdi, r12
    switch style {
    case .direct:
      a.emit(0xe8)  // call code
      a.reference(.code)
    case .indirect, .retpoline:
      a.emit(0x48, 0x8d, 0x05)  // lea rax, [rip + code]: a function pointer
      a.reference(.code)
      if style == .indirect {
        a.emit(0xff, 0xd0)  // call rax
      } else {
        a.emit(0xe8)  // call thunk
        a.reference(.thunk)
      }
    }
    a.emit(0x49, 0x81, 0xbc, 0x24)  // cmp qword [r12 + status], 0
    a.emit32(Int32(NativeCode.statusField))
    a.emit32(0)
    a.emit(0x0f, 0x85)  // jne done
    a.reference(.done)
    a.emit(0x48, 0x83, 0xc3, 0x01)  // add rbx, 1
    a.emit(0xe9)  // jmp loop
    a.reference(.loop)
    a.bind(.done)
    a.emit(0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5b)  // pop r15-r12, rbx
    a.emit(0xc3)  // ret
    // The retpoline: the return stack predicts the speculative path into
    // the pause loop; the real return goes to RAX.
    a.bind(.thunk)
    a.emit(0xe8)  // call capture
    a.reference(.capture)
    a.bind(.spin)
    a.emit(0xf3, 0x90, 0x0f, 0xae, 0xe8)  // pause; lfence
    a.emit(0xe9)  // jmp spin
    a.reference(.spin)
    a.bind(.capture)
    a.emit(0x48, 0x89, 0x04, 0x24)  // mov [rsp], rax
    a.emit(0xc3)  // ret
    // The program's code starts a page, as the engine's own copy of it
    // does (``ExecutableMemory``): where its branches and loop fall
    // within 32- and 64-byte blocks is then the same as in the runners,
    // and the same for every call style. At a 16-byte offset instead,
    // xdp_classify's batch form measured 1 ns a call slower than at the
    // runners' placement.
    while a.bytes.count % Self.codeAlignment != 0 { a.emit(0xcc) }  // int3
    a.bind(.code)
    return a.finished()
  }
}

/// The driver's bytes, with its few labels resolved as 32-bit
/// displacements from the end of the field that names them.
private struct DriverAssembly {
  enum Label { case loop, done, thunk, spin, capture, code }

  private(set) var bytes: [UInt8] = []
  private var positions: [Label: Int] = [:]
  private var references: [(at: Int, label: Label)] = []

  mutating func emit(_ values: UInt8...) { bytes += values }

  mutating func emit32(_ value: Int32) {
    withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
  }

  mutating func bind(_ label: Label) { positions[label] = bytes.count }

  /// A rel32 field naming `label`.
  mutating func reference(_ label: Label) {
    references.append((bytes.count, label))
    emit32(0)
  }

  func finished() -> [UInt8] {
    var result = bytes
    for (at, label) in references {
      let distance = Int32(positions[label]! - (at + 4))
      withUnsafeBytes(of: distance.littleEndian) { raw in
        for k in 0..<4 { result[at + k] = raw[k] }
      }
    }
    return result
  }
}
