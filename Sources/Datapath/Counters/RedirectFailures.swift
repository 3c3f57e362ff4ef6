/// Why the software datapath could not carry out REDIRECT verdicts, by
/// reason: the split of the `redirect_failed` counter that `datapath
/// status` and `stats --json` show as `"redirect_failures"`.
public struct RedirectFailures: Hashable, Codable, Sendable {
  /// A reason a redirect was not carried out.
  public enum Reason: Sendable {
    /// The frame was not sent: the target interface is not there or not
    /// up, or refused it.
    case unsent
    /// To an XSKMAP entry (an AF_XDP socket the user registered): the
    /// datapath's own sockets own the interface's queues, so a user's
    /// socket cannot be reached from it.
    case socket
    /// To a CPUMAP entry: the datapath does not steer frames to CPUs.
    case processor
    /// With `BPF_F_BROADCAST`: not carried out by the datapath.
    case broadcast
  }

  /// Frames not sent to their interface.
  public var unsent: UInt64 = 0
  /// Frames redirected to an XSKMAP socket.
  public var socket: UInt64 = 0
  /// Frames redirected to a CPUMAP CPU.
  public var processor: UInt64 = 0
  /// Frames broadcast through a DEVMAP.
  public var broadcast: UInt64 = 0

  /// None.
  public init() {}

  /// The count of `reason`.
  public subscript(reason: Reason) -> UInt64 {
    get {
      switch reason {
      case .unsent: unsent
      case .socket: socket
      case .processor: processor
      case .broadcast: broadcast
      }
    }
    set {
      switch reason {
      case .unsent: unsent = newValue
      case .socket: socket = newValue
      case .processor: processor = newValue
      case .broadcast: broadcast = newValue
      }
    }
  }

  /// Adds another set, reason by reason.
  public mutating func add(_ other: RedirectFailures) {
    unsent &+= other.unsent
    socket &+= other.socket
    processor &+= other.processor
    broadcast &+= other.broadcast
  }

  /// Every failed redirect.
  public var total: UInt64 { unsent &+ socket &+ processor &+ broadcast }

  enum CodingKeys: String, CodingKey {
    case unsent
    case socket = "xskmap"
    case processor = "cpumap"
    case broadcast
  }
}
