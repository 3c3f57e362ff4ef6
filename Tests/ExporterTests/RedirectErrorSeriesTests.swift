import BPF
import Prometheus
import Testing

@testable import Exporter

/// Failed redirects turned into `xdpbatch_redirect_errors_total` by
/// reason: increases added, a total that fell (a new datapath process,
/// the other datapath) counted from zero, and the series leave with the
/// interface.
struct RedirectErrorSeriesTests {
  static func value(_ reason: String, in registry: PrometheusCollectorRegistry) -> Double? {
    DatapathSeriesTests.value(
      .redirectErrors, #"interface="eth0",reason="\#(reason)""#, in: registry)
  }

  @Test func countsEachReasonAndNeverStepsBack() {
    let registry = PrometheusCollectorRegistry()
    var series = RedirectErrorSeries(interface: "eth0")
    series.record(RedirectErrors(packets: ["ENETDOWN": 40, "dropped": 2]), registry: registry)
    #expect(Self.value("ENETDOWN", in: registry) == 40)
    #expect(Self.value("dropped", in: registry) == 2)
    series.record(RedirectErrors(packets: ["ENETDOWN": 55, "dropped": 2]), registry: registry)
    #expect(Self.value("ENETDOWN", in: registry) == 55)
    // Another source starts from zero: its totals are added on top.
    series.record(RedirectErrors(packets: ["ENETDOWN": 5, "ENXIO": 7]), registry: registry)
    #expect(Self.value("ENETDOWN", in: registry) == 60)
    #expect(Self.value("ENXIO", in: registry) == 7)
    #expect(Self.value("dropped", in: registry) == 2)
    series.unregister(from: registry)
    #expect(Self.value("ENETDOWN", in: registry) == nil)
  }

  @Test func theFamilyIsACounterWithHelp() {
    #expect(MetricFamily.redirectErrors.isCounter)
    #expect(MetricFamily.redirectErrors.help.contains("by reason"))
  }
}
