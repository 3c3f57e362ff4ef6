/// Runs of one program over many context records in a row (the live
/// runner's per-packet form calls the program once per frame of an RX
/// batch): what ``Machine/run(_:r1:r2:)`` sets up per call that does not
/// change from one call to the next is set up once per series.
///
/// Per series (``beginSeries(_:)``): the program's entry is looked up,
/// the context block gets the address space's arena and page table, the
/// instruction budget, and no callback error. Per call (``runInSeries(_:r1:r2:)``):
/// R1 and R2, the helpers' work, and the block's executed count, call depth,
/// status and trusted record and batch (``trustedRecord(_:)``, ``trustedCount(_:_:)``); the JIT's prologue zeroes the other registers, empties
/// the access window if the page table changed since it was filled
/// (``AccessWindow``) and resets the tail-call count itself. Helpers that
/// change the address space refresh the block when they return
/// (``JITBridge``), so arming it once per series stays true.
///
/// The interpreter (or a program the JIT could not compile) runs through
/// ``Machine/run(_:r1:r2:)`` as before: a series then costs what the
/// single calls cost.
public struct RunSeries {
  /// The program's machine code, nil when the interpreter runs it.
  let entry: CompiledProgram.Entry?
  /// The armed context block (nil with ``entry``).
  let context: UnsafeMutableRawPointer?
  /// Whether runs must let go of tail-call targets when they end.
  let usesTailCalls: Bool
}

extension Machine {
  /// Arms the machine for a series of runs of `program`; valid until the
  /// next series or a call of ``run(_:r1:r2:)``.
  @inline(__always)
  public func beginSeries(_ program: PreparedProgram) -> RunSeries {
    guard configuration.engine == .jit, let entry = compiledEntry(for: program) else {
      return RunSeries(entry: nil, context: nil, usesTailCalls: program.usesTailCalls)
    }
    return RunSeries(entry: entry, context: armContext(), usesTailCalls: program.usesTailCalls)
  }

  /// Runs `program` (the one `series` was begun for) with R1 and R2 set,
  /// and returns R0, as ``run(_:r1:r2:)`` does: same result, same errors,
  /// same instruction count.
  ///
  /// - Throws: ``ExecutionError``, as ``run(_:r1:r2:)``.
  @inline(__always)
  public func runInSeries(
    _ series: RunSeries, _ program: PreparedProgram, r1: UInt64, r2: UInt64 = 0
  ) throws(ExecutionError) -> UInt64 {
    let trusting = trustedRecord(r1)
    return try runInSeries(
      series, program, r1: r1, r2: r2, trusting: trusting,
      count: trusting == 0 ? 0 : trustedCount(r1, r2))
  }

  /// ``runInSeries(_:_:r1:r2:)`` with the record the code may trust in
  /// this call found by the caller: `r1` only where
  /// ``trustedRecord(_:)`` would find it (a runner that knows the
  /// record's slot, ``ContextRecords/trusted(_:)``), else 0; and `count`
  /// only where ``trustedCount(_:_:)`` would find it
  /// (``ContextRecords/trustedCount(_:)``), else 0.
  @inline(__always)
  func runInSeries(
    _ series: RunSeries, _ program: PreparedProgram, r1: UInt64, r2: UInt64, trusting: UInt64,
    count: UInt64 = 0
  ) throws(ExecutionError) -> UInt64 {
    guard let entry = series.entry, let context = series.context else {
      return try run(program, r1: r1, r2: r2)
    }
    registers[1] = r1
    registers[2] = r2
    helperWork = 0
    context.storeBytes(of: 0, toByteOffset: Int(JITContext.executed), as: UInt64.self)
    context.storeBytes(of: 0, toByteOffset: Int(JITContext.depth), as: UInt64.self)
    context.storeBytes(of: 0, toByteOffset: Int(JITContext.status), as: UInt64.self)
    context.storeBytes(of: trusting, toByteOffset: Int(JITContext.trustedRecord), as: UInt64.self)
    context.storeBytes(of: count, toByteOffset: Int(JITContext.trustedCount), as: UInt64.self)
    defer { if series.usesTailCalls { endTailCalls() } }
    let result = entry(context, r1, r2)
    if context.load(fromByteOffset: Int(JITContext.status), as: UInt64.self) == 0 {
      executedInstructions = Int(
        truncatingIfNeeded: context.load(fromByteOffset: Int(JITContext.executed), as: UInt64.self))
      return result
    }
    defer { jit.error = nil }
    return try finishCompiledRun(result)
  }
}
