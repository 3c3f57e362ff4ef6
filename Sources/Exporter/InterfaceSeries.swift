import BPF
import Deployment
import Prometheus

/// One interface's series: the counters of every attachment seen there
/// (one set per ``SeriesLabels``), fed from successive counter samples.
///
/// Samples go through the deployment's ``CounterTracker``, so totals are
/// continuous as the console's are: across a program swap (new program
/// id: its run statistics start from zero) and a new counters map. Each
/// sample's increase is added to the series of what was attached when
/// it was taken; a series that was swapped away keeps its value and
/// resumes when its program and form come back.
struct InterfaceSeries {
  /// The interface.
  let interface: String
  private var tracker = CounterTracker()
  private var reported = Totals()
  private var series: [SeriesLabels: AttachmentCounters] = [:]

  /// Nothing counted yet on `interface`.
  init(interface: String) {
    self.interface = interface
  }

  /// Adds `sample`, taken while the attachment named by `labels` ran,
  /// to that attachment's counters (made in `registry` on first use).
  mutating func record(
    _ sample: CounterSample, labels: SeriesLabels, registry: PrometheusCollectorRegistry
  ) {
    let report = tracker.record(sample)
    let now = Totals(
      actions: report.totals, runs: tracker.runs, runTimeNanoseconds: tracker.runTimeNanoseconds)
    let counters =
      series[labels]
      ?? {
        let made = AttachmentCounters(labels: labels, registry: registry)
        series[labels] = made
        return made
      }()
    counters.add(now.increase(since: reported))
    reported = now
  }

  /// Removes every series of the interface from `registry`.
  func unregister(from registry: PrometheusCollectorRegistry) {
    for counters in series.values { counters.unregister(from: registry) }
  }
}

/// What the tracker has counted so far on one interface.
struct Totals {
  var actions = ActionCounts()
  var runs: UInt64 = 0
  var runTimeNanoseconds: UInt64 = 0

  /// The increase from `earlier` to these totals. The tracker's totals
  /// never step back; a difference that would be negative (above 2^63
  /// once wrapped) is counted as none rather than as a huge jump.
  func increase(since earlier: Totals) -> Totals {
    func difference(_ now: UInt64, _ before: UInt64) -> UInt64 {
      let delta = now &- before
      return delta > UInt64(Int64.max) ? 0 : delta
    }
    var increase = Totals()
    for action in XDPAction.allCases {
      increase.actions[action] = ActionCount(
        packets: difference(actions[action].packets, earlier.actions[action].packets),
        bytes: difference(actions[action].bytes, earlier.actions[action].bytes))
    }
    increase.runs = difference(runs, earlier.runs)
    increase.runTimeNanoseconds = difference(runTimeNanoseconds, earlier.runTimeNanoseconds)
    return increase
  }
}

/// The Prometheus counters of one attachment: packets and bytes per
/// action, program runs and seconds in the program.
struct AttachmentCounters {
  let packets: [Counter]
  let bytes: [Counter]
  let runs: Counter
  let runSeconds: Counter

  /// Registers the attachment's counters in `registry` (at zero).
  init(labels: SeriesLabels, registry: PrometheusCollectorRegistry) {
    packets = XDPAction.allCases.map {
      registry.makeCounter(
        descriptor: MetricFamily.packets.descriptor, labels: labels.pairs(action: $0))
    }
    bytes = XDPAction.allCases.map {
      registry.makeCounter(
        descriptor: MetricFamily.bytes.descriptor, labels: labels.pairs(action: $0))
    }
    runs = registry.makeCounter(
      descriptor: MetricFamily.programRuns.descriptor, labels: labels.pairs())
    runSeconds = registry.makeCounter(
      descriptor: MetricFamily.programRunSeconds.descriptor, labels: labels.pairs())
  }

  /// Adds an increase (every value below 2^63, as ``Totals/increase(since:)`` makes them).
  func add(_ increase: Totals) {
    for action in XDPAction.allCases {
      let index = Int(action.rawValue)
      packets[index].increment(by: Int64(increase.actions[action].packets))
      bytes[index].increment(by: Int64(increase.actions[action].bytes))
    }
    runs.increment(by: Int64(increase.runs))
    runSeconds.increment(by: Double(increase.runTimeNanoseconds) / 1e9)
  }

  /// Removes the counters from `registry`.
  func unregister(from registry: PrometheusCollectorRegistry) {
    for counter in packets + bytes + [runs, runSeconds] { registry.unregisterCounter(counter) }
  }
}
