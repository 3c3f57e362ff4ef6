/// The layout of the block the JIT's code reads through R12: the address
/// space's arena, page table and size, the instruction budget, the run's
/// status and fault details, the pending redirect (``RedirectWords``), the
/// records of the batch being run (for the epilogue's inline redirect
/// commit), and the stack-frame tops. The engine refreshes
/// the address-space fields after every call back into Swift, so a helper
/// that grows the space never leaves the code with stale pointers.
enum JITContext {
  static let arena: Int32 = 0
  static let limits: Int32 = 8
  static let pages: Int32 = 16
  static let machine: Int32 = 24
  static let budget: Int32 = 32
  static let executed: Int32 = 40
  static let depth: Int32 = 48
  static let savedStack: Int32 = 56
  static let status: Int32 = 64
  static let faultIndex: Int32 = 72
  static let faultAddress: Int32 = 80
  static let faultInfo: Int32 = 88
  static let registers: Int32 = 96
  /// The machine's pending redirect: 16 bytes of ``RedirectWords``.
  static let pendingRedirect: Int32 = 104
  /// The address of the first record of the batch being run (0: none).
  static let batchRecords: Int32 = 120
  /// How many records that batch has.
  static let batchCount: Int32 = 128
  /// Their committed redirects, one ``RedirectWords`` per record.
  static let batchRedirects: Int32 = 136
  /// The maps as the JIT's inline helpers see them: ``MapDescriptor``s.
  static let mapTable: Int32 = 144
  /// How many descriptors ``mapTable`` has.
  static let mapCount: Int32 = 152
  static let stackTops: Int32 = 160
  /// Tail calls the run has taken (the kernel's `tail_call_cnt`): the
  /// entry sets it to 0, native tail calls and the engine's Swift code
  /// count in it.
  static let tailCalls: Int32 = stackTops + 8 * Int32(Machine.frameLimit)
  /// Non-zero while tail calls are refused (batch runs): a tail call then
  /// goes to the engine's Swift code, which raises the error.
  static let tailCallsRefused: Int32 = tailCalls + 8
  /// The access window (``AccessWindow``): its page's first address.
  static let windowLow: Int32 = tailCallsRefused + 8
  /// Four words: how many starts past ``windowLow`` a 1-, 2-, 4- and
  /// 8-byte access may have (0: the window is empty for that size).
  static let windowSpan: Int32 = windowLow + 8
  /// The host address of ``windowLow`` (the arena plus it).
  static let windowHost: Int32 = windowSpan + 32
  /// Three words of scratch for the window's refill.
  static let windowScratch: Int32 = windowHost + 8
  /// The bookkeeping (``PacketFrame``s) of the records of the batch being
  /// run, one per record, where the inline packet helpers read and move
  /// the bounds.
  static let batchFrames: Int32 = windowScratch + 24
  /// The helpers' work so far in the run (``Machine/helperWork``), which
  /// the inline packet helpers charge as the engine's Swift code does.
  static let helperWork: Int32 = batchFrames + 8
  /// The access windows of the context records and of packets
  /// (``AccessWindow/Region``), laid out as the first window at
  /// ``windowLow``: page, four spans, host address.
  static let regionWindows: Int32 = helperWork + 8
  /// The address of the address space's ``AddressSpace/generation``.
  static let spaceGeneration: Int32 = regionWindows + 2 * AccessWindow.bytes
  /// The generation the access windows were filled at: the prologue keeps
  /// them when the space still has it, and empties them all otherwise.
  static let windowGeneration: Int32 = spaceGeneration + 8
  /// The address space's ``AddressSpace/writeLimits``: where programs
  /// may write (the records' `struct xdp_md` excepted).
  static let writeLimits: Int32 = windowGeneration + 8
  /// The stores' own windows (``AccessWindow/Region/otherStore``,
  /// ``AccessWindow/Region/packetStore``), laid out as the first window
  /// at ``windowLow``, filled from ``writeLimits``.
  static let storeWindows: Int32 = writeLimits + 8
  /// The one context record the code may trust in this call (0: none):
  /// set at every entry from Swift (``Machine/trustedRecord(_:)``) or by
  /// a driver that the engine vouched for its records
  /// (``Machine/trusts(record:)``); the body's start compares R1 with it
  /// (``JITCompiler/emitTrustCheck()``).
  static let trustedRecord: Int32 = storeWindows + 2 * AccessWindow.bytes
  /// The records from ``trustedRecord`` on the code may trust as one
  /// batch in this call (0: no batch named; the record alone stands): set
  /// with it (``Machine/trustedCount(_:_:)``); a batch form's body whose
  /// proofs read through its cursor compares R2 with it at its start
  /// (``JITCompiler/emitTrustCheck()``).
  static let trustedCount: Int32 = trustedRecord + 8
  /// The end of the records a record guard checked in this call
  /// (``JITCompiler/emitRecordGuard(_:_:)``): what a loop's back-edge
  /// compares its cursor with where the program keeps its own bound on
  /// the stack (``RecordCursors/endChecks``).
  static let recordsEnd: Int32 = trustedCount + 8
  /// Bytes in the block.
  static let size = Int(recordsEnd + 8)

  /// Values of the status field.
  enum Status: Int32 {
    case ok = 0
    /// A Swift callback threw; the error is in ``JITRuntime/error``.
    case callbackError = 1
    case memoryFault = 2
    case budgetExceeded = 3
    case callDepthExceeded = 4
    case fellOffEnd = 5
    /// A legacy packet load was out of bounds: the program ends with R0 = 0.
    case legacyLoadExit = 6
  }
}

/// BPF registers to x86-64 registers, as the kernel's JIT maps them
/// (arch/x86/net/bpf_jit_comp.c): arguments R1–R5 in the C argument
/// registers, callee-saved R6–R9 in callee-saved registers, R10 in RBP.
/// R9 (x86) counts executed instructions; R10 and R11 are scratch; R12
/// holds the ``JITContext`` block.
enum JITRegisters {
  static let map: [X86Register] = [
    .rax, .rdi, .rsi, .rdx, .rcx, .r8, .rbx, .r13, .r14, .r15, .rbp,
  ]
  static let counter = X86Register.r9
  static let scratch = X86Register.r10
  static let address = X86Register.r11
  static let context = X86Register.r12

  static func bpf(_ number: UInt8) -> X86Register { map[Int(number)] }
}
