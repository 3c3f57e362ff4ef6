import BPF
import Engine
import Kernel

/// What a running software datapath reports through its control socket
/// (`status`), and what `stats --json` shows of it.
public struct DatapathStatus: Hashable, Codable, Sendable {
  /// The interface.
  public var interface: String
  /// The object file.
  public var object: String
  /// The program's name.
  public var program: String
  /// Always `"software"`.
  public var datapath: String
  /// The form the next RX batch runs in.
  public var form: Form
  /// The batch form's stack strategy.
  public var strategy: String
  /// The batch form's loop bound.
  public var bound: String
  /// Whether the program has a batch form.
  public var batchAvailable: Bool
  /// Whether every socket runs zero-copy (false: copy mode).
  public var zeroCopy: Bool
  /// Receive queues, one socket each.
  public var queues: Int
  /// The datapath process.
  public var pid: Int32
  /// When it started (seconds since 1970).
  public var started: Double
  /// The TAP device PASS frames go to.
  public var passDevice: String
  /// What the datapath counted (including what earlier runs left in the map).
  public var counters: DatapathCounters.Totals
  /// The sockets' `XDP_STATISTICS`, added.
  public var socket: SocketStatistics
  /// Packets and time per packet in each form.
  public var forms: TimingByForm
  /// Both forms measured alternately on the same traffic in the window
  /// after the last swap (or the start): the same datapath, engine and
  /// frames, unlike ``forms``' totals, which may come from different
  /// times. Absent from an older datapath; a form that has not run in the
  /// window has no packets.
  public var comparison: TimingByForm?
  /// The PASS and REDIRECT frames handed to the kernel and the system
  /// calls that took them; absent from an older datapath.
  public var slowPath: SlowPathCalls?
  /// Why REDIRECT verdicts failed, by reason (nil from a datapath that
  /// predates the split).
  public var redirectFailures: RedirectFailures?
  /// REDIRECT verdicts whose frame did not leave, by reason (the
  /// ``counters``' REDIRECT counts only those that left); nil from a
  /// datapath of an older xdpbatch.
  public var redirectErrors: RedirectErrors?
  /// The maps of the user's program the engines share with the kernel
  /// (every one but a program array; docs/DESIGN.md, "Maps on the
  /// software datapath").
  public var followedMaps: [String]?
  /// Why the last exchange with those maps failed in part, or one could
  /// not be shared as the rule says; nil when neither.
  public var followProblem: String?
  /// How each map is shared, by name (absent from an older datapath).
  public var mapSharing: [String: MapSharing]?
  /// The queues' exchanges with the kernel's maps and what they took.
  public var mapExchange: MapExchangeTotals?
  /// The engine asked for (`jit` or `interpreter`); absent from a datapath
  /// of an older xdpbatch.
  public var engine: EngineKind?
  /// Why the program runs in the interpreter although the JIT was asked
  /// for (nil when it compiled).
  public var engineFallback: String?
  /// Whether verdicts are acted on grouped by action.
  public var groupActions: Bool?

  /// The engine that runs the program: the interpreter when the JIT
  /// refused it.
  public var runningEngine: EngineKind? {
    engineFallback == nil ? engine : .interpreter
  }
}

/// The exchanges of all queues with the kernel's maps.
public struct MapExchangeTotals: Hashable, Codable, Sendable {
  /// Exchanges done.
  public var exchanges: UInt64 = 0
  /// Nanoseconds they took, added.
  public var nanoseconds: UInt64 = 0

  /// None yet.
  public init() {}

  private enum CodingKeys: String, CodingKey {
    case exchanges
    case nanoseconds = "ns"
  }
}
