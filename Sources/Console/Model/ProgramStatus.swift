/// The program pane's data: which program runs on the selected interface,
/// in which form, and what the rewrite cost and gained.
public struct ProgramStatus: Hashable, Sendable {
  /// Per-packet (as compiled) or batch (rewritten).
  public enum Mode: String, Hashable, Sendable, CaseIterable {
    /// The program as compiled, called once per packet.
    case perPacket = "per-packet"
    /// The batch trampoline around it, called once per batch.
    case batch
  }

  /// How the rewriter makes room for its saved registers on the stack.
  public enum Strategy: String, Hashable, Sendable, CaseIterable {
    /// Shift every R10-relative access down.
    case shift
    /// Reserve slots below the deepest stack use.
    case reserve
  }

  /// How the batch loop knows where to stop.
  public enum Bound: String, Hashable, Sendable, CaseIterable {
    /// A count passed in R2.
    case count
    /// The immediate batch size, as the 2019 proof of concept.
    case immediate
    /// An end pointer instead of a counter.
    case endPointer = "end-pointer"
  }

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
  /// Where the kernel runs it, as the kernel names it (`native`,
  /// `generic`); `nil` when it runs in xdpbatch's engine only.
  public var attachMode: String?
  /// Instructions as compiled.
  public var instructionsBefore: Int
  /// Instructions after the batch rewrite, `nil` until rewritten.
  public var instructionsAfter: Int?
  /// Measured nanoseconds per packet for each mode measured so far.
  public var nanosecondsPerPacket: [Mode: Double]

  /// Describes a program.
  public init(
    objectPath: String, programName: String, mode: Mode = .perPacket,
    strategy: Strategy = .shift, bound: Bound = .count, batchSize: Int = 64,
    attachMode: String? = nil, instructionsBefore: Int, instructionsAfter: Int? = nil,
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
