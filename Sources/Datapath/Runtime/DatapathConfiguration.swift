import BPF
import Engine
import Kernel

/// What a software datapath runs, and where.
public struct DatapathConfiguration: Sendable {
  /// The interface whose frames it takes.
  public var interface: String
  /// The user's object file (absolute path).
  public var objectPath: String
  /// The program's name in it.
  public var programName: String
  /// The user's program with its counting pass, as the kernel half's
  /// fallback runs it (``ProgramSpec/countersMapIndex`` set), taking over
  /// the maps it adopted from the program it replaces.
  public var fallback: ProgramSpec
  /// The form it starts in.
  public var form: Form
  /// The batch form's stack strategy.
  public var strategy: BatchStrategy
  /// The batch form's loop bound.
  public var bound: BatchBound
  /// How the kernel half attaches (native for veth: copy-mode AF_XDP needs it).
  public var attachMode: AttachMode
  /// Where the control socket lives.
  public var state: StateDirectory
  /// The engine the program runs in (the JIT on x86-64 by default).
  public var engine: EngineKind
  /// Act on a batch's verdicts grouped by action (every drop recycled,
  /// then TX and REDIRECT, then PASS) instead of in frame order.
  public var groupActions: Bool
  /// Whether the program's maps are the kernel's (the default; see
  /// ``SharedMaps``). False keeps them the engines' own, as the datapath
  /// did before, but for the redirect maps: the bench's reference.
  public var sharedMaps: Bool
  /// Nanoseconds a PASS or REDIRECT frame waits at most to be sent with
  /// others (``GatheredSends``).
  public var sendLatency = Self.defaultSendLatency
  /// 50 µs: a few RX batches at the rates one queue sees on veth, far
  /// below what a TCP or ARP peer notices.
  public static let defaultSendLatency: UInt64 = 50_000
  /// When each queue takes an RX batch (nil: as soon as a frame is
  /// there); the bench's paced rows (``RXPacing``).
  public var rxPacing: RXPacing?
  /// The bytes of trace lines the datapath keeps for `xdpbatch trace`
  /// (each line costs its text and ``TraceLog/lineOverhead``).
  public var traceCapacity = TraceFeed.defaultCapacity

  /// Describes a datapath.
  public init(
    interface: String, objectPath: String, programName: String, fallback: ProgramSpec,
    form: Form = .perPacket,
    strategy: BatchStrategy = .reserve, bound: BatchBound = .endPointer,
    attachMode: AttachMode = .native, state: StateDirectory = StateDirectory(),
    engine: EngineKind = .platformDefault, groupActions: Bool = false, sharedMaps: Bool = true
  ) {
    self.sharedMaps = sharedMaps
    self.engine = engine
    self.groupActions = groupActions
    self.interface = interface
    self.objectPath = objectPath
    self.programName = programName
    self.fallback = fallback
    self.form = form
    self.strategy = strategy
    self.bound = bound
    self.attachMode = attachMode
    self.state = state
  }
}
