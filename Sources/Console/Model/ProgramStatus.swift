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
  /// Measured nanoseconds per packet for each mode measured so far.
  public var nanosecondsPerPacket: [Mode: Double]

  /// Describes a program.
  public init(
    objectPath: String, programName: String, mode: Mode = .perPacket,
    strategy: Strategy = .default, bound: Bound = .default, batchSize: Int = 64,
    attachMode: AttachMode? = nil, instructionsBefore: Int, instructionsAfter: Int? = nil,
    nanosecondsPerPacket: [Mode: Double] = [:]
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
  }
}
