import BPF

/// Turns successive ``CounterSample``s into continuous totals and rates.
///
/// Kernel counters are read as differences from the previous sample:
/// differences wrap modulo 2^64, so a counter that overflows keeps
/// counting; when the program is replaced (new program id) its run
/// statistics restart at zero and the new values are added as they are;
/// likewise for a new counters map (new map id). Totals therefore never
/// step back.
public struct CounterTracker: Sendable {
  /// Totals since the first sample.
  public private(set) var totals = ActionCounts()
  /// Program runs since the first sample.
  public private(set) var runs: UInt64 = 0
  /// Nanoseconds spent in the program since the first sample.
  public private(set) var runTimeNanoseconds: UInt64 = 0
  /// The previous sample.
  public private(set) var last: CounterSample?

  /// Starts with nothing counted.
  public init() {}

  /// What one step of the tracker reports.
  public struct Report: Hashable, Sendable {
    /// Totals so far.
    public var totals: ActionCounts
    /// Packets per second for each action, over the last interval
    /// (zero on the first sample).
    public var packetsPerSecond: [XDPAction: Double]
    /// Bytes per second for each action, over the last interval (zero on
    /// the first sample).
    public var bytesPerSecond: [XDPAction: Double] = [:]
    /// Average nanoseconds per program run over the last interval, `nil`
    /// when the program did not run or statistics are off.
    public var nanosecondsPerRun: Double?
    /// The program's run time over the last interval divided by the
    /// packets it decided: per packet whatever the form (a batch
    /// program's run decides many packets). `nil` as for
    /// ``nanosecondsPerRun``, or when no packet was counted.
    public var nanosecondsPerPacket: Double?
  }

  /// Starts the totals again from zero at the last sample (a new
  /// baseline): the kernel's counters are left as they are, and the next
  /// sample adds only what happened since.
  public mutating func resetBaseline() {
    totals = ActionCounts()
    runs = 0
    runTimeNanoseconds = 0
  }

  /// Adds `sample` and reports totals and rates.
  public mutating func record(_ sample: CounterSample) -> Report {
    var rates: [XDPAction: Double] = [:]
    var byteRates: [XDPAction: Double] = [:]
    var nanosecondsPerRun: Double?
    var nanosecondsPerPacket: Double?
    if let last {
      let sameMap = last.mapID == sample.mapID
      let elapsed = sample.time - last.time
      for action in XDPAction.allCases {
        let now = sample.actions[action]
        let before = sameMap ? last.actions[action] : ActionCount()
        let packets = now.packets &- before.packets
        let bytes = now.bytes &- before.bytes
        totals[action].packets &+= packets
        totals[action].bytes &+= bytes
        rates[action] = elapsed > 0 ? Double(packets) / elapsed : 0
        byteRates[action] = elapsed > 0 ? Double(bytes) / elapsed : 0
      }
      let sameProgram = last.programID == sample.programID
      let runDelta = sample.runCount &- (sameProgram ? last.runCount : 0)
      let timeDelta = sample.runTimeNanoseconds &- (sameProgram ? last.runTimeNanoseconds : 0)
      runs &+= runDelta
      runTimeNanoseconds &+= timeDelta
      if runDelta > 0 { nanosecondsPerRun = Double(timeDelta) / Double(runDelta) }
      let packetDelta = XDPAction.allCases.reduce(UInt64(0)) { sum, action in
        sum
          &+ (sample.actions[action].packets
            &- (sameMap ? last.actions[action].packets : 0))
      }
      if runDelta > 0, packetDelta > 0 {
        nanosecondsPerPacket = Double(timeDelta) / Double(packetDelta)
      }
    } else {
      totals = sample.actions
      runs = sample.runCount
      runTimeNanoseconds = sample.runTimeNanoseconds
      for action in XDPAction.allCases {
        rates[action] = 0
        byteRates[action] = 0
      }
    }
    last = sample
    return Report(
      totals: totals, packetsPerSecond: rates, bytesPerSecond: byteRates,
      nanosecondsPerRun: nanosecondsPerRun, nanosecondsPerPacket: nanosecondsPerPacket)
  }
}
