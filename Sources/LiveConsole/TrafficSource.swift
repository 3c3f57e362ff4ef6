import BPF
import Control

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
}

/// One reading of an interface: its counters and what runs there.
public struct TrafficReading: Sendable {
  /// The counters map and the program's run statistics.
  public var sample: CounterSample
  /// The record of the program attached now; `nil` when the record is
  /// missing or describes another program.
  public var record: AttachmentRecord?

  /// Describes a reading.
  public init(sample: CounterSample, record: AttachmentRecord?) {
    self.sample = sample
    self.record = record
  }
}
