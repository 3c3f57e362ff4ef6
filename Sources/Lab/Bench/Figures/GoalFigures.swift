/// Issue 22's figures as ratios, each from one run (`bench --json` key
/// `"goals"`): what the engines and batching tables say, divided out so a
/// script reads a goal's figure without recomputing it.
///
/// - `jit_over_kernel_net`: per sample, the JIT's ns per packet net of an
///   empty program called the same way in the same driver loop, over the
///   kernel's net of its test-run loop (the same empty program's test run):
///   both sides without their call, prologue and loop, each the median of
///   per-round differences of the program and the empty program timed in
///   the same round (``RoundSpread``; goal: at most 1.5).
/// - `jit_gross_over_kernel_net`: the JIT's gross ns per packet (call,
///   prologue and epilogue included) over the kernel's net: the figure
///   `jit_over_kernel_net` was before both sides were taken net.
/// - `jit_over_kernel_code` (informational, not a goal): per sample whose
///   kernel code could be copied (``KernelCodeCopy``), the JIT's net over
///   the net of the kernel's own JIT code called by the same kind of
///   driver on the same frames in the same rounds
///   (`engines.kernel_code_net_ns_per_packet`): like with like, without
///   the test-run loop; left out where that net is not resolved: a
///   quarter of its rounds or more at or below 0 (its low quartile), or
///   its median no larger than its rounds' interquartile range (a
///   program that costs no more than the empty one, xdp_tailcall_target,
///   has no ratio).
/// - `batch_speedup_direct`, `batch_speedup_retpoline`: per sample the
///   batch form transforms, per-packet over batch with that call style,
///   the median of interleaved rounds' ratios (the batching rows'
///   `speedup`; goals: at least 0.97 and at least 1.2).
/// - `checked_over_unchecked`: the JIT's compute loop with its memory
///   accesses checked over unchecked, the median of interleaved rounds'
///   ratios (`engines.jit_checked_over_unchecked_rounds`; goal: at most 1.2).
///
/// Each ratio is of two forms timed back to back in the same round
/// (``RoundRatios``): this VM's CPU speed changes for tenths of a second
/// at a time, and a quotient of two separately kept fastest figures moved
/// by up to 1.3x from one process to the next.
public struct GoalFigures: Encodable, Sendable, Equatable {
  public var jitOverKernelNet: [String: Double]
  public var jitGrossOverKernelNet: [String: Double]
  public var jitOverKernelCode: [String: Double]
  public var batchSpeedupDirect: [String: Double]
  public var batchSpeedupRetpoline: [String: Double]
  public var checkedOverUnchecked: Double?
  /// The programs whose kernel net its clock could not resolve
  /// (`engines.kernel_net_below_resolution`): their `jit_over_kernel_net`
  /// and `jit_gross_over_kernel_net` are left out, not read off a
  /// quotient of the clock's rounding.
  public var kernelNetBelowResolution: [String]

  /// The ratios of `engines` and `batching`; a ratio that was not
  /// measured (a divisor missing or zero, no batch form) is left out.
  public init(engines: EngineComparison, batching: [BatchingFigure]) {
    func overKernelNet(_ jit: [String: Double]) -> [String: Double] {
      jit.reduce(into: [:]) { result, entry in
        if let net = engines.kernelNetNanosecondsPerPacket[entry.key], net > 0,
          !engines.kernelNetBelowResolution.contains(entry.key)
        {
          result[entry.key] = entry.value / net
        }
      }
    }
    kernelNetBelowResolution = engines.kernelNetBelowResolution
    jitOverKernelNet = overKernelNet(engines.jitNetNanosecondsPerPacket)
    jitGrossOverKernelNet = overKernelNet(engines.jitNanosecondsPerPacket)
    jitOverKernelCode = engines.jitNetNanosecondsPerPacket.reduce(into: [:]) { result, entry in
      if let code = engines.kernelCodeNetRounds[entry.key], code.lowQuartile > 0,
        code.median > code.highQuartile - code.lowQuartile
      {
        result[entry.key] = entry.value / code.median
      }
    }
    func speedups(_ call: CallStyle) -> [String: Double] {
      var result: [String: Double] = [:]
      for row in batching where row.call == call.rawValue {
        if let speedup = row.speedup { result[row.program] = speedup }
      }
      return result
    }
    batchSpeedupDirect = speedups(.direct)
    batchSpeedupRetpoline = speedups(.retpoline)
    checkedOverUnchecked = engines.jitCheckedOverUncheckedRounds?.median
  }
}
