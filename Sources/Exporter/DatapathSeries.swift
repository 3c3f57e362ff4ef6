import BPF
import Datapath
import Kernel
import Prometheus

/// One interface's software-datapath series, fed from the running
/// datapath's status (its control socket): seconds in the program, seconds
/// in the whole datapath and frames, per form, and the AF_XDP sockets'
/// drops by reason.
///
/// The datapath reports totals since its process started; a new process
/// (another pid or start time) starts from zero, and its totals are added
/// on top, so the Prometheus counters never step back.
struct DatapathSeries {
  /// The interface.
  let interface: String
  private var process: (pid: Int32, started: Double)?
  private var timing = TimingByForm()
  private var socket = SocketStatistics()
  private var forms: [FormSeriesKey: FormCounters] = [:]
  private var drops: [Counter] = []
  /// The last comparison window's seconds per packet, per program and form
  /// (made once a window measured the form).
  private var compared: [FormSeriesKey: Gauge] = [:]

  /// The `reason` label values of ``MetricFamily/socketDropped`` and where
  /// each count is in the sockets' statistics.
  static let dropReasons: [(reason: String, count: @Sendable (SocketStatistics) -> UInt64)] = [
    ("rx_dropped", { $0.rxDropped }), ("rx_ring_full", { $0.rxRingFull }),
    ("fill_ring_empty", { $0.fillRingEmpty }), ("tx_invalid", { $0.txInvalid }),
  ]

  /// Nothing counted yet on `interface`.
  init(interface: String) {
    self.interface = interface
  }

  /// Adds what `status` counted since the last status of the same process
  /// (everything, for a new process) to the counters in `registry`.
  mutating func record(_ status: DatapathStatus, registry: PrometheusCollectorRegistry) {
    if let process, process.pid == status.pid, process.started == status.started {
    } else {
      process = (status.pid, status.started)
      timing = TimingByForm()
      socket = SocketStatistics()
    }
    for form in Form.allCases {
      let key = FormSeriesKey(program: status.program, form: form)
      let counters =
        forms[key]
        ?? {
          let made = FormCounters(interface: interface, key: key, registry: registry)
          forms[key] = made
          return made
        }()
      counters.add(now: status.forms[form], before: timing[form])
    }
    timing = status.forms
    if let comparison = status.comparison {
      for form in Form.allCases {
        guard let cost = comparison[form].programNanosecondsPerPacket else { continue }
        let key = FormSeriesKey(program: status.program, form: form)
        let gauge =
          compared[key]
          ?? {
            let made = registry.makeGauge(
              descriptor: MetricFamily.datapathComparedProgramSeconds.descriptor,
              labels: [("interface", interface), ("program", key.program), ("form", key.formLabel)])
            compared[key] = made
            return made
          }()
        gauge.set(to: cost / 1e9)
      }
    }
    if drops.isEmpty {
      drops = Self.dropReasons.map {
        registry.makeCounter(
          descriptor: MetricFamily.socketDropped.descriptor,
          labels: [("interface", interface), ("reason", $0.reason)])
      }
    }
    for (counter, reason) in zip(drops, Self.dropReasons) {
      counter.increment(
        by: Int64(Self.increase(reason.count(status.socket), reason.count(socket))))
    }
    socket = status.socket
  }

  /// Removes every series of the interface's datapath from `registry`.
  func unregister(from registry: PrometheusCollectorRegistry) {
    for counters in forms.values { counters.unregister(from: registry) }
    for counter in drops { registry.unregisterCounter(counter) }
    for gauge in compared.values { registry.unregisterGauge(gauge) }
  }

  /// `now - before`, or none when that would be negative (a counter that
  /// stepped back is not a huge increase).
  static func increase(_ now: UInt64, _ before: UInt64) -> UInt64 {
    let delta = now &- before
    return delta > UInt64(Int64.max) ? 0 : delta
  }
}

/// Which program and form one set of time and frame counters is for.
struct FormSeriesKey: Hashable {
  var program: String
  var form: Form

  /// The `form` label's value in Prometheus's words (`per_packet`), as
  /// ``SeriesLabels`` writes it.
  var formLabel: String { form.rawValue.replacingOccurrences(of: "-", with: "_") }
}

/// The counters of one program in one form on one interface's datapath.
struct FormCounters {
  let programSeconds: Counter
  let datapathSeconds: Counter
  let packets: Counter

  /// Registers the three counters in `registry` (at zero).
  init(interface: String, key: FormSeriesKey, registry: PrometheusCollectorRegistry) {
    let labels = [("interface", interface), ("program", key.program), ("form", key.formLabel)]
    programSeconds = registry.makeCounter(
      descriptor: MetricFamily.datapathProgramSeconds.descriptor, labels: labels)
    datapathSeconds = registry.makeCounter(
      descriptor: MetricFamily.datapathSeconds.descriptor, labels: labels)
    packets = registry.makeCounter(
      descriptor: MetricFamily.datapathPackets.descriptor, labels: labels)
  }

  /// Adds the increase from `before` to `now`.
  func add(now: FormTiming, before: FormTiming) {
    packets.increment(by: Int64(DatapathSeries.increase(now.packets, before.packets)))
    // The program is timed on a sample of the batches: its seconds are
    // its share of the sample's time, applied to every batch's.
    let sampled = DatapathSeries.increase(now.programNanoseconds, before.programNanoseconds)
    let span = DatapathSeries.increase(now.programSpanNanoseconds, before.programSpanNanoseconds)
    let whole = DatapathSeries.increase(now.datapathNanoseconds, before.datapathNanoseconds)
    programSeconds.increment(
      by: span == 0 ? 0 : min(1, Double(sampled) / Double(span)) * Double(whole) / 1e9)
    datapathSeconds.increment(
      by: Double(DatapathSeries.increase(now.datapathNanoseconds, before.datapathNanoseconds))
        / 1e9)
  }

  /// Removes the counters from `registry`.
  func unregister(from registry: PrometheusCollectorRegistry) {
    for counter in [programSeconds, datapathSeconds, packets] {
      registry.unregisterCounter(counter)
    }
  }
}
