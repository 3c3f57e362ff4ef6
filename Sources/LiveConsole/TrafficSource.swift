import BPF
import Datapath
import Deployment

/// Where a ``ConsoleSession`` reads the selected interface's counters and
/// which program runs there: the kernel (``PinnedTraffic``), or made-up
/// readings in a test.
public protocol TrafficSource: AnyObject {
  /// Reads the counters of xdpbatch's attachment on `interface` at
  /// `time`, with the record of the program running there; `nil` when
  /// xdpbatch has nothing attached to `interface`.
  func read(interface: String, at time: Double) throws -> TrafficReading?

  /// Which of xdpbatch's programs runs on `interface` now (`nil`: none,
  /// or one without a matching record), without reading the counters.
  func record(interface: String) throws -> AttachmentRecord?

  /// What the software datapath running on `interface` reports (`nil`:
  /// none runs there, or it does not answer).
  func datapath(interface: String) -> DatapathReading?
}

extension TrafficSource {
  /// No software datapath, unless the source says otherwise.
  public func datapath(interface: String) -> DatapathReading? { nil }
}

/// What the program pane shows of a running software datapath: its form,
/// its sockets' mode and the time per packet in each form that ran.
public struct DatapathReading: Hashable, Sendable {
  /// The form the next RX batch runs in.
  public var form: Form
  /// Whether every socket runs zero-copy (`false`: copy mode).
  public var zeroCopy: Bool
  /// Packets, program time and whole-datapath time in each form.
  public var forms: TimingByForm
  /// Both forms measured alternately on the same traffic after the last
  /// swap (``DatapathStatus/comparison``); nil from an older datapath.
  public var comparison: TimingByForm?
  /// The engine that runs the program (`jit`, `interpreter`).
  public var engine: String?

  /// Describes a datapath.
  public init(
    form: Form, zeroCopy: Bool, forms: TimingByForm, comparison: TimingByForm? = nil,
    engine: String? = nil
  ) {
    self.form = form
    self.zeroCopy = zeroCopy
    self.forms = forms
    self.comparison = comparison
    self.engine = engine
  }

  /// What `status` reports over the datapath's control socket.
  public init(_ status: DatapathStatus) {
    self.init(
      form: status.form, zeroCopy: status.zeroCopy, forms: status.forms,
      comparison: status.comparison, engine: status.runningEngine?.rawValue)
  }
}

/// One reading of an interface: its counters and what runs there.
public struct TrafficReading: Sendable {
  /// The counters map and the program's run statistics.
  public var sample: CounterSample
  /// The record of the program attached now; `nil` when the record is
  /// missing or describes another program.
  public var record: AttachmentRecord?
  /// The software datapath's report, when one runs on the interface.
  public var datapath: DatapathReading?
  /// The failed redirects of the datapath that runs the program, by
  /// reason (`nil`: not counted there).
  public var redirectErrors: RedirectErrors?

  /// Describes a reading.
  public init(
    sample: CounterSample, record: AttachmentRecord?, datapath: DatapathReading? = nil,
    redirectErrors: RedirectErrors? = nil
  ) {
    self.sample = sample
    self.record = record
    self.datapath = datapath
    self.redirectErrors = redirectErrors
  }
}
