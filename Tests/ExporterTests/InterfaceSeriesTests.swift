import BPF
import Deployment
import Prometheus
import Testing

@testable import Exporter

/// Samples turned into series: increases go to what was attached when
/// they were counted, totals stay continuous across swaps and a new map,
/// and an interface's series leave the registry with it.
struct InterfaceSeriesTests {
  static let perPacket = SeriesLabels(interface: "eth0", program: "xdp_prog", form: "per_packet")
  static let batch = SeriesLabels(interface: "eth0", program: "xdp_prog", form: "batch")

  static func sample(
    time: Double, map: UInt32 = 1, program: UInt32, drop: UInt64, runs: UInt64, nanoseconds: UInt64
  ) -> CounterSample {
    var actions = ActionCounts()
    actions[.drop] = ActionCount(packets: drop, bytes: drop * 64)
    return CounterSample(
      time: time, mapID: map, actions: actions, programID: program, runCount: runs,
      runTimeNanoseconds: nanoseconds)
  }

  /// The value of the sample `family{labels[,action]}` in `registry`'s text.
  static func value(
    _ family: MetricFamily, _ labels: SeriesLabels, action: XDPAction? = nil,
    in registry: PrometheusCollectorRegistry
  ) -> Double? {
    let rendered = labels.pairs(action: action).map { "\($0)=\"\($1)\"" }.joined(separator: ",")
    let prefix = "\(family.name){\(rendered)} "
    return registry.emitToString().split(separator: "\n").first { $0.hasPrefix(prefix) }
      .flatMap { Double($0.dropFirst(prefix.count)) }
  }

  @Test func increasesGoToTheFormThatCountedThemAndTotalsStayContinuous() {
    let registry = PrometheusCollectorRegistry()
    var series = InterfaceSeries(interface: "eth0")
    // Before the exporter: 100 drops by program 10 (as the console, the
    // first reading counts what the map holds).
    series.record(
      Self.sample(time: 0, program: 10, drop: 100, runs: 100, nanoseconds: 5_000),
      labels: Self.perPacket, registry: registry)
    #expect(Self.value(.packets, Self.perPacket, action: .drop, in: registry) == 100)
    #expect(Self.value(.bytes, Self.perPacket, action: .drop, in: registry) == 6_400)
    #expect(Self.value(.packets, Self.perPacket, action: .pass, in: registry) == 0)
    #expect(Self.value(.programRuns, Self.perPacket, in: registry) == 100)
    #expect(Self.value(.programRunSeconds, Self.perPacket, in: registry) == 5e-6)

    // Swapped to the batch form (program 11, statistics from zero).
    series.record(
      Self.sample(time: 1, program: 11, drop: 150, runs: 2, nanoseconds: 1_000),
      labels: Self.batch, registry: registry)
    #expect(Self.value(.packets, Self.batch, action: .drop, in: registry) == 50)
    #expect(Self.value(.programRuns, Self.batch, in: registry) == 2)
    #expect(Self.value(.packets, Self.perPacket, action: .drop, in: registry) == 100)

    // Back to per-packet (program 12): its series resumes, never resets.
    series.record(
      Self.sample(time: 2, program: 12, drop: 170, runs: 20, nanoseconds: 1_000),
      labels: Self.perPacket, registry: registry)
    #expect(Self.value(.packets, Self.perPacket, action: .drop, in: registry) == 120)
    #expect(Self.value(.programRuns, Self.perPacket, in: registry) == 120)
    #expect(Self.value(.packets, Self.batch, action: .drop, in: registry) == 50)

    // A new counters map (detach, attach) counts from zero: 30 more.
    series.record(
      Self.sample(time: 3, map: 2, program: 13, drop: 30, runs: 30, nanoseconds: 900),
      labels: Self.perPacket, registry: registry)
    #expect(Self.value(.packets, Self.perPacket, action: .drop, in: registry) == 150)

    series.unregister(from: registry)
    #expect(!registry.emitToString().contains("eth0"))
  }

  @Test func aCounterThatStepsBackAddsNothing() {
    let registry = PrometheusCollectorRegistry()
    var series = InterfaceSeries(interface: "eth0")
    series.record(
      Self.sample(time: 0, program: 10, drop: 100, runs: 100, nanoseconds: 5_000),
      labels: Self.perPacket, registry: registry)
    // Same map, fewer packets: someone zeroed it. No jump of 2^64.
    series.record(
      Self.sample(time: 1, program: 10, drop: 40, runs: 140, nanoseconds: 6_000),
      labels: Self.perPacket, registry: registry)
    let drops = Self.value(.packets, Self.perPacket, action: .drop, in: registry)
    #expect(drops == 100)
    #expect(Self.value(.programRuns, Self.perPacket, in: registry) == 140)
  }
}
