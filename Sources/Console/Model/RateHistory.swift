import BPF

/// Per-action packets per second over time: what the plot draws. Keeps
/// the last ``retention`` seconds (at least the 60 s the plot shows).
public struct RateHistory: Hashable, Sendable {
  /// One reading.
  public struct Point: Hashable, Sendable {
    /// Seconds on a monotonic clock.
    public var time: Double
    /// Packets per second, indexed by `XDPAction.rawValue`.
    public var packetsPerSecond: [Double]

    /// The rate of `action`.
    public subscript(action: XDPAction) -> Double {
      let index = Int(action.rawValue)
      return index < packetsPerSecond.count ? packetsPerSecond[index] : 0
    }
  }

  /// Readings, oldest first.
  public private(set) var points: [Point] = []
  /// Seconds of history kept.
  public let retention: Double

  /// An empty history keeping `retention` seconds (never under 60).
  public init(retention: Double = 600) {
    self.retention = max(60, retention)
  }

  /// Adds a reading taken at `time`; readings older than ``retention``
  /// before it are dropped. A reading older than the last one restarts
  /// the history (the clock went back: a new source).
  public mutating func append(time: Double, packetsPerSecond rates: [XDPAction: Double]) {
    if let last = points.last, time < last.time { points.removeAll() }
    let values = XDPAction.allCases.map { rates[$0] ?? 0 }
    points.append(Point(time: time, packetsPerSecond: values))
    if let first = points.first, time - first.time > retention * 1.5 {
      points.removeAll { time - $0.time > retention }
    }
  }

  /// The time of the newest reading.
  public var latestTime: Double? { points.last?.time }

  /// The readings within `seconds` before the newest one, and the one
  /// just before that window (so a line can enter from the left edge).
  public func window(seconds: Double) -> ArraySlice<Point> {
    guard let end = points.last?.time else { return [] }
    let start = points.lastIndex { $0.time < end - seconds } ?? points.startIndex
    return points[start...]
  }
}
