import BPF
import Datapath
import Kernel

/// One reading of an interface's counters: the action counters map and
/// the attached program's run statistics, with when it was taken.
public struct CounterSample: Hashable, Sendable {
  /// Seconds on a monotonic clock.
  public var time: Double
  /// The counters map's kernel id: a new id means a new map, counting
  /// from zero.
  public var mapID: UInt32
  /// The per-action counts, summed over CPUs.
  public var actions: ActionCounts
  /// The attached program's id: a new id means its run statistics start
  /// from zero.
  public var programID: UInt32
  /// The program's `run_cnt`.
  public var runCount: UInt64
  /// The program's `run_time_ns`.
  public var runTimeNanoseconds: UInt64

  /// Describes a reading.
  public init(
    time: Double, mapID: UInt32, actions: ActionCounts, programID: UInt32, runCount: UInt64,
    runTimeNanoseconds: UInt64
  ) {
    self.time = time
    self.mapID = mapID
    self.actions = actions
    self.programID = programID
    self.runCount = runCount
    self.runTimeNanoseconds = runTimeNanoseconds
  }
}

extension XDPAttachment {
  /// Reads the counters map and the attached program's statistics now.
  public func sample(at time: Double) throws(SystemCallError) -> CounterSample {
    // The software datapath's records, when it runs here, count the
    // frames the kernel handed to it.
    var actions = try counters.read()
    actions.add(DatapathCounters.actions(DatapathPins(directory: pins)))
    let info = try program().info()
    return CounterSample(
      time: time, mapID: counters.map.id, actions: actions, programID: info.id,
      runCount: info.runCount, runTimeNanoseconds: info.runTimeNanoseconds)
  }
}
