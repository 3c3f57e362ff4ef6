import BPF

/// The program pane's data: which program runs on the selected interface,
/// in which form, and what the rewrite cost and gained.
public struct ProgramStatus: Hashable, Sendable {
  /// Per-packet (as compiled) or batch (rewritten): the shared ``Form``.
  public typealias Mode = Form
  /// How the rewriter makes room on the stack: the shared ``BatchStrategy``.
  public typealias Strategy = BatchStrategy
  /// How the batch loop knows where to stop: the shared ``BatchBound``.
  public typealias Bound = BatchBound

  /// Path of the loaded object.
  public var objectPath: String
  /// The program's name.
  public var programName: String
  /// The form running now.
  public var mode: Mode
  /// The rewrite's stack strategy.
  public var strategy: Strategy
  /// The rewrite's loop bound.
  public var bound: Bound
  /// Buffers per batch.
  public var batchSize: Int
  /// Where the kernel runs it (native, generic), `nil` when it runs in
  /// xdpbatch's engine only.
  public var attachMode: AttachMode?
  /// Instructions as compiled.
  public var instructionsBefore: Int
  /// Instructions after the batch rewrite, `nil` until rewritten.
  public var instructionsAfter: Int?
  /// Measured nanoseconds per packet spent in the program, for each mode
  /// measured so far (the kernel's run statistics, or the engine's time in
  /// the software datapath).
  public var nanosecondsPerPacket: [Mode: Double]
  /// Where the program runs: `kernel` (the kernel calls it per packet) or
  /// `software` (the AF_XDP datapath process runs it in the engine).
  public var datapath: String
  /// For the software datapath: whether its sockets run zero-copy (`false`:
  /// copy mode); `nil` in the kernel or while unknown.
  public var zeroCopy: Bool?
  /// For the software datapath: the whole datapath's nanoseconds per packet
  /// (off the RX ring to acted on), for each mode that ran, to read beside
  /// the program's own ``nanosecondsPerPacket``.
  public var datapathNanosecondsPerPacket: [Mode: Double]
  /// What `b` does when it moves the interface between the kernel and the
  /// software datapath ("move ens1f0 to the software datapath (AF_XDP) in
  /// batch form"), which the console asks to confirm first; `nil` when `b`
  /// stays within one datapath.
  public var datapathMove: String?
  /// Why the rewriter refuses this program a batch form (a tail call, a
  /// stack it cannot bound), when it does: `b` says so at once instead of
  /// asking first; `nil` when it has one or while unknown.
  public var batchRefusal: String?
  /// The engine of the software datapath that measured
  /// ``nanosecondsPerPacket`` and ``datapathNanosecondsPerPacket`` (both
  /// forms on its own traffic, kept after the interface moved back to the
  /// kernel); `nil` when those are the kernel's figures.
  public var softwareEngine: String?
  /// The kernel's own nanoseconds per packet (its run statistics) in each
  /// form it ran, shown on a line of their own beside the software
  /// datapath's figures (never compared with them).
  public var kernelNanosecondsPerPacket: [Mode: Double] = [:]

  /// Describes a program.
  public init(
    objectPath: String, programName: String, mode: Mode = .perPacket,
    strategy: Strategy = .default, bound: Bound = .default, batchSize: Int = 64,
    attachMode: AttachMode? = nil, instructionsBefore: Int, instructionsAfter: Int? = nil,
    nanosecondsPerPacket: [Mode: Double] = [:], datapath: String = "kernel",
    zeroCopy: Bool? = nil, datapathNanosecondsPerPacket: [Mode: Double] = [:],
    datapathMove: String? = nil, batchRefusal: String? = nil
  ) {
    self.objectPath = objectPath
    self.programName = programName
    self.mode = mode
    self.strategy = strategy
    self.bound = bound
    self.batchSize = batchSize
    self.attachMode = attachMode
    self.instructionsBefore = instructionsBefore
    self.instructionsAfter = instructionsAfter
    self.nanosecondsPerPacket = nanosecondsPerPacket
    self.datapath = datapath
    self.zeroCopy = zeroCopy
    self.datapathNanosecondsPerPacket = datapathNanosecondsPerPacket
    self.datapathMove = datapathMove
    self.batchRefusal = batchRefusal
  }

  /// Whether the software datapath runs the program.
  public var isSoftware: Bool { datapath == "software" }
}
