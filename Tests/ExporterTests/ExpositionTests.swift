import Prometheus
import Testing

@testable import Exporter

/// Content negotiation, the OpenMetrics rendering and the family names,
/// without a kernel or a network.
struct ExpositionTests {
  /// What Prometheus 2.x sends when it scrapes.
  static let prometheusAccept =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

  @Test func prometheusGetsOpenMetricsAndCurlGetsText() {
    #expect(ExpositionFormat.negotiate(accept: Self.prometheusAccept) == .openMetrics)
    #expect(ExpositionFormat.negotiate(accept: "*/*") == .text)
    #expect(ExpositionFormat.negotiate(accept: nil) == .text)
    #expect(ExpositionFormat.negotiate(accept: "text/plain;version=0.0.4") == .text)
    #expect(ExpositionFormat.negotiate(accept: "application/openmetrics-text") == .openMetrics)
    #expect(
      ExpositionFormat.negotiate(
        accept: "application/openmetrics-text;q=0.2, text/plain;version=0.0.4;q=0.5") == .text)
    // An OpenMetrics version the exporter does not write is not chosen.
    #expect(
      ExpositionFormat.negotiate(accept: "application/openmetrics-text;version=2.0.0") == .text)
    #expect(ExpositionFormat.negotiate(accept: "application/json") == .text)
  }

  @Test func openMetricsNamesCounterFamiliesWithoutTotalAndEndsWithEOF() {
    let registry = PrometheusCollectorRegistry()
    registry.makeCounter(
      descriptor: MetricFamily.packets.descriptor,
      labels: [("interface", "eth0"), ("action", "drop")]
    ).increment(by: Int64(42))
    registry.makeGauge(descriptor: MetricFamily.info.descriptor, labels: [("kernel", "6.1")]).set(
      to: 1.0)
    let text = registry.emitToString()
    #expect(ExpositionFormat.text.render(text) == text)
    #expect(text.contains("# TYPE xdpbatch_packets_total counter\n"))

    let open = ExpositionFormat.openMetrics.render(text)
    let lines = open.split(separator: "\n").map(String.init)
    #expect(lines.last == "# EOF")
    #expect(lines.filter { $0 == "# EOF" }.count == 1)
    #expect(lines.contains("# TYPE xdpbatch_packets counter"))
    #expect(lines.contains { $0.hasPrefix("# HELP xdpbatch_packets Packets ") })
    #expect(lines.contains(#"xdpbatch_packets_total{interface="eth0",action="drop"} 42"#))
    #expect(lines.contains("# TYPE xdpbatch_info gauge"))
    #expect(!open.contains("\n\n"))
  }

  @Test func familyNamesFollowTheNamingGuide() {
    for family in MetricFamily.allCases {
      #expect(family.name.hasPrefix("xdpbatch_"))
      #expect(family.descriptor.name == family.name)
      #expect(family.name.hasSuffix("_total") == family.isCounter)
      #expect(!family.help.isEmpty)
    }
    #expect(MetricFamily.programRunSeconds.name.contains("_seconds"))
  }

  @Test func listenAddressesParseAndPrint() throws {
    #expect(try ListenAddress(parsing: "127.0.0.1:18064") == .default)
    #expect(try ListenAddress(parsing: ":9999") == ListenAddress(host: "127.0.0.1", port: 9999))
    #expect(try ListenAddress(parsing: "0.0.0.0:0") == ListenAddress(host: "0.0.0.0", port: 0))
    let v6 = try ListenAddress(parsing: "[::1]:18064")
    #expect(v6 == ListenAddress(host: "::1", port: 18064))
    #expect(v6.description == "[::1]:18064")
    #expect(throws: ListenAddressError.malformed("18064")) { try ListenAddress(parsing: "18064") }
    #expect(throws: ListenAddressError.malformed("::1:80")) { try ListenAddress(parsing: "::1:80") }
    #expect(throws: ListenAddressError.badPort("localhost:http")) {
      try ListenAddress(parsing: "localhost:http")
    }
    #expect(throws: ListenAddressError.badPort("localhost:65536")) {
      try ListenAddress(parsing: "localhost:65536")
    }
    // Outside the fully allocated exporter range of Prometheus's list.
    #expect(!(9100...9999).contains(ListenAddress.defaultPort))
  }
}
