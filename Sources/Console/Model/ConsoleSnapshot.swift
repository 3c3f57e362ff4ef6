import BPF

/// Everything the console draws at one tick, as the layer above produces it. The
/// console only reads snapshots; it never asks the kernel itself.
public struct ConsoleSnapshot: Hashable, Sendable {
  /// The interfaces, in the order to show them (i40e ports first).
  public var interfaces: [InterfaceRow]
  /// Whether the kernel reports XDP features (`netdev` netlink family).
  public var reportsXDPFeatures: Bool
  /// The interface that ``program`` and ``traffic`` describe.
  public var selectedInterface: String?
  /// The program xdpbatch runs on the selected interface, if any.
  public var program: ProgramStatus?
  /// Whether the running kernel can run batch XDP itself.
  public var kernelBatchSupport: KernelBatchSupport
  /// Per-action totals and rates on the selected interface.
  public var traffic: ActionTraffic
  /// Per-action packets per second over time.
  public var history: RateHistory
  /// The last thing the layer above has to say.
  public var status: StatusMessage?
  /// What the attach chooser offers: the bundled sample objects.
  public var attachChoices: [AttachChoice]
  /// The maps of the selected interface's program (the maps pane, `m`).
  public var maps: [MapPanel] = []
  /// The selected program's action counts per CPU, when it has a counters
  /// map (the per-CPU pane, `c`).
  public var perCPU: [ActionCounts] = []

  /// Describes a snapshot.
  public init(
    interfaces: [InterfaceRow], reportsXDPFeatures: Bool = true,
    selectedInterface: String? = nil, program: ProgramStatus? = nil,
    kernelBatchSupport: KernelBatchSupport = .unknown("not probed"),
    traffic: ActionTraffic = ActionTraffic(), history: RateHistory = RateHistory(),
    status: StatusMessage? = nil, attachChoices: [AttachChoice] = []
  ) {
    self.interfaces = interfaces
    self.reportsXDPFeatures = reportsXDPFeatures
    self.selectedInterface = selectedInterface
    self.program = program
    self.kernelBatchSupport = kernelBatchSupport
    self.traffic = traffic
    self.history = history
    self.status = status
    self.attachChoices = attachChoices
  }

  /// The interface named `name`.
  public func interface(named name: String?) -> InterfaceRow? {
    guard let name else { return nil }
    return interfaces.first { $0.name == name }
  }
}

/// A line for the status bar.
public struct StatusMessage: Hashable, Sendable {
  /// How the message is shown.
  public enum Severity: Hashable, Sendable {
    /// Ordinary news (attached, swapped).
    case info
    /// Something failed; drawn in the theme's error colour.
    case error
  }

  /// Info or error.
  public var severity: Severity
  /// The text, possibly several lines (a verifier's reason).
  public var text: String
  /// More to read in the message log (`l`): the whole verifier log of a
  /// rejected program; `nil` when the text says everything.
  public var detail: String?

  /// Describes a message.
  public init(_ severity: Severity, _ text: String, detail: String? = nil) {
    self.severity = severity
    self.text = text
    self.detail = detail
  }

  /// An informational message.
  public static func info(_ text: String) -> StatusMessage { StatusMessage(.info, text) }
  /// An error message.
  public static func error(_ text: String, detail: String? = nil) -> StatusMessage {
    StatusMessage(.error, text, detail: detail)
  }

  /// The most useful part of the text that fits in `width` cells, for
  /// the status line: the whole text when it is one line and fits;
  /// otherwise its cause, the last line, or the last `: `-separated
  /// clauses of it that fit ("Operation not supported (errno 95)" rather
  /// than "attach xdp1 from /a/long/path to eth0: …"). The log keeps the
  /// full text.
  public func headline(width: Int) -> String {
    let lines = text.split(separator: "\n").map { String($0.trimmingSpaces()) }.filter {
      !$0.isEmpty
    }
    guard let first = lines.first else { return "" }
    if lines.count == 1, first.displayWidth <= width { return first }
    let cause = lines.count > 1 ? lines[lines.count - 1] : first
    let clauses = cause.split(separator: ": ", omittingEmptySubsequences: false).map(String.init)
    var chosen = ""
    for clause in clauses.reversed() {
      let candidate = chosen.isEmpty ? clause : clause + ": " + chosen
      if candidate.displayWidth + 2 > width { break }
      chosen = candidate
    }
    if chosen.isEmpty { return cause.truncated(toWidth: width) }
    return chosen == first ? chosen : "…" + chosen
  }
}

/// A failed command with more to say than one line: the layer above
/// throws it from its command executor so that the message log keeps
/// `detail` (a verifier's whole log) beside `message`.
public struct CommandFailure: Error, CustomStringConvertible, Sendable {
  /// The error's message.
  public var message: String
  /// The long form, for the log; `nil` when there is none.
  public var detail: String?

  /// Describes a failure.
  public init(message: String, detail: String? = nil) {
    self.message = message
    self.detail = detail
  }

  /// The message.
  public var description: String { message }
}

/// One entry of the attach chooser: an object file and the program in it.
public struct AttachChoice: Hashable, Sendable {
  /// Path of the BPF object (`build/samples/xdp1.o`).
  public var objectPath: String
  /// The program to load, `nil` for the object's first XDP program.
  public var programName: String?
  /// One line about what it does.
  public var summary: String

  /// Describes a choice.
  public init(objectPath: String, programName: String? = nil, summary: String = "") {
    self.objectPath = objectPath
    self.programName = programName
    self.summary = summary
  }
}

/// Whether the running kernel carries a batching patch, as a BTF probe of
/// `struct xdp_buff` found out.
public enum KernelBatchSupport: Hashable, Sendable {
  /// The kernel batches; the detail says what the probe found.
  case supported(String)
  /// A stock kernel: batch programs run in xdpbatch's engine.
  case unsupported(String)
  /// Not probed, or the probe failed.
  case unknown(String)

  /// What the probe found, or why it could not tell.
  public var detail: String {
    switch self {
    case .supported(let detail), .unsupported(let detail), .unknown(let detail): detail
    }
  }
}
