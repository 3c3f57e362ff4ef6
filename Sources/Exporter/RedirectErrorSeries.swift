import BPF
import Prometheus

/// One interface's ``MetricFamily/redirectErrors`` counters, one per
/// reason, fed from the totals its datapath reports. A total that fell (a
/// new datapath process, the other datapath) counts from zero, so the
/// counters never step back.
struct RedirectErrorSeries {
  /// The interface.
  let interface: String
  private var last = RedirectErrors()
  private var counters: [String: Counter] = [:]

  /// Nothing counted yet on `interface`.
  init(interface: String) { self.interface = interface }

  /// Adds what `errors` counted since the last totals.
  mutating func record(_ errors: RedirectErrors, registry: PrometheusCollectorRegistry) {
    for (reason, count) in errors.since(last).packets {
      let counter =
        counters[reason]
        ?? {
          let made = registry.makeCounter(
            descriptor: MetricFamily.redirectErrors.descriptor,
            labels: [("interface", interface), ("reason", reason)])
          counters[reason] = made
          return made
        }()
      counter.increment(by: Int64(clamping: count))
    }
    last = errors
  }

  /// Removes the interface's counters from `registry`.
  func unregister(from registry: PrometheusCollectorRegistry) {
    for counter in counters.values { registry.unregisterCounter(counter) }
  }
}
