import BPF

/// Per-action totals and current rates on one interface.
public struct ActionTraffic: Hashable, Sendable {
  /// Packets and bytes since the baseline.
  public var totals: ActionCounts
  /// Packets per second over the last interval.
  public var packetsPerSecond: [XDPAction: Double]
  /// Bytes per second over the last interval.
  public var bytesPerSecond: [XDPAction: Double]
  /// REDIRECT verdicts whose frame did not leave, by reason (`nil`: not
  /// counted where the program runs).
  public var redirectErrors: RedirectErrors?

  /// Describes traffic; no traffic by default.
  public init(
    totals: ActionCounts = ActionCounts(), packetsPerSecond: [XDPAction: Double] = [:],
    bytesPerSecond: [XDPAction: Double] = [:]
  ) {
    self.totals = totals
    self.packetsPerSecond = packetsPerSecond
    self.bytesPerSecond = bytesPerSecond
  }
}
