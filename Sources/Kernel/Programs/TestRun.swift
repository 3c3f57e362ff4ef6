import CBPF
import Glibc

/// One `BPF_PROG_TEST_RUN` of an XDP program: the kernel runs it on a
/// frame, `repeat` times, and reports the verdict and the average time.
public struct TestRun: Sendable {
  /// The frame the program sees (an Ethernet frame).
  public var frame: [UInt8]
  /// How many times to run it (the kernel treats 0 as 1).
  public var repetitions: UInt32
  /// The interface the frame arrives on (`ingress_ifindex`); 0 for none.
  /// It is resolved in the calling thread's network namespace.
  public var interfaceIndex: UInt32
  /// The receive queue the frame arrives on.
  public var queueIndex: UInt32

  /// Describes a test run.
  public init(
    frame: [UInt8], repetitions: UInt32 = 1, interfaceIndex: UInt32 = 0, queueIndex: UInt32 = 0
  ) {
    self.frame = frame
    self.repetitions = repetitions
    self.interfaceIndex = interfaceIndex
    self.queueIndex = queueIndex
  }

  /// The page a test run builds the frame in (headroom, data, tailroom):
  /// no program can hand back more.
  static let pageSize = 4096

  /// What a test run reports.
  public struct Result: Hashable, Sendable {
    /// The program's return value on the last run.
    public var returnValue: UInt32
    /// The kernel's average time per run, in nanoseconds.
    public var nanosecondsPerRun: UInt32
    /// The frame as the program left it.
    public var frame: [UInt8]
  }

  /// Runs `program` as described.
  public func run(_ program: LoadedProgram) throws(SystemCallError) -> Result {
    // The program may grow the frame at both ends (adjust_head, adjust_meta,
    // adjust_tail) up to the page the kernel builds it in.
    let capacity = max(frame.count + 256, Self.pageSize)
    var output = [UInt8](repeating: 0, count: capacity)
    let useContext = interfaceIndex != 0
    let frame = self.frame
    return try ZeroedStorage.with(xdp_md.self) { (context) throws(SystemCallError) in
      // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex.
      context.pointee.data_end = UInt32(frame.count)
      context.pointee.ingress_ifindex = interfaceIndex
      context.pointee.rx_queue_index = queueIndex
      return try ZeroedStorage.options(bpf_test_run_opts.self) {
        (options) throws(SystemCallError) in
        options.pointee.repeat = Int32(clamping: repetitions)
        try check("test run of program \"\(program.name)\"") {
          frame.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
              options.pointee.data_in = input.baseAddress
              options.pointee.data_size_in = UInt32(input.count)
              options.pointee.data_out = out.baseAddress
              options.pointee.data_size_out = UInt32(out.count)
              if useContext {
                options.pointee.ctx_in = UnsafeRawPointer(context)
                options.pointee.ctx_size_in = UInt32(MemoryLayout<xdp_md>.size)
              }
              return bpf_prog_test_run_opts(program.descriptor.rawValue, options)
            }
          }
        }
        let answer = options.pointee
        return Result(
          returnValue: answer.retval, nanosecondsPerRun: answer.duration,
          frame: Array(output.prefix(Int(answer.data_size_out))))
      }
    }
  }
}
