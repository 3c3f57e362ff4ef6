/// A program's compiled machine code, for a caller that calls it from
/// machine code of its own: a driver loop that places a copy beside it
/// (in ``ExecutableMemory``) and calls it the ways a NIC driver can.
///
/// The code's C signature is `uint64_t code(void *context, uint64_t r1,
/// uint64_t r2)`: the machine's context block (``Machine/withNativeRun(_:)``
/// hands it out), R1 and R2 in, R0 out. Helpers find the registers in the
/// machine's register file, whose address the block holds at
/// ``registerFileField``.
public struct NativeCode: Sendable {
  /// The machine code. Position-independent: jumps inside it are
  /// relative and its calls back into the engine (helpers, tail calls,
  /// atomics) absolute, so a copy runs wherever it is mapped executable.
  public let bytes: [UInt8]

  /// Where the context block holds the address of the register file:
  /// R0–R10, 8 bytes each (R1 at +8, R2 at +16).
  public static let registerFileField = Int(JITContext.registers)
  /// Where the context block holds the run's status, a 64-bit word: zero
  /// while the run goes on, non-zero once a call stopped with an error (a
  /// caller stops calling then; ``Machine/withNativeRun(_:)`` throws it).
  public static let statusField = Int(JITContext.status)
  /// Where the context block holds the record the code may trust as R1 in
  /// the call (0: none, as ``Machine/withNativeRun(_:)`` leaves it): a
  /// driver stores there, per call, only a record
  /// ``Machine/trusts(record:)`` vouched for, or 0; the code checks R1
  /// against it at its start and runs fully checked on any other R1.
  public static let trustedRecordField = Int(JITContext.trustedRecord)
  /// Where the context block holds the number of records from the trusted
  /// record on that the code may trust as one batch (0: none, the record
  /// alone): a driver stores there only a count
  /// ``Machine/trusts(record:count:)`` vouched for, or 0; a batch form's
  /// code checks R2 against it at its start.
  public static let trustedCountField = Int(JITContext.trustedCount)
}

extension Machine {
  /// `program`'s machine code, compiled on first use.
  ///
  /// - Throws: ``JITError`` when it cannot be compiled (not x86-64,
  ///   executable memory refused).
  public func nativeCode(for program: PreparedProgram) throws(JITError) -> NativeCode {
    guard let code = compiledCode(for: program) else {
      throw program.compileFailure ?? .unsupportedArchitecture
    }
    return NativeCode(bytes: code.bytes)
  }

  /// Calls `body` with this machine's context block, set up for a run as
  /// ``run(_:r1:r2:)`` sets it up, for `body` to call native code with;
  /// then throws the error a call stopped with, if one did.
  ///
  /// - Throws: ``ExecutionError``, as a run of the program would.
  public func withNativeRun(_ body: (UnsafeMutableRawPointer) -> Void) throws(ExecutionError) {
    body(armContext())
    _ = try finishCompiledRun(0)
  }
}
