import BPF
import Datapath
import Foundation
import Kernel
import Prometheus
import Testing

@testable import Exporter

/// Datapath statuses turned into counters: increases within one process,
/// a new process's totals added on top (never a step back), and the
/// series leave the registry with the datapath.
struct DatapathSeriesTests {
  /// A status of process `pid` with these totals (decoded from the JSON
  /// the control socket sends).
  static func status(
    pid: Int32, perPacket: (packets: UInt64, program: UInt64, whole: UInt64, span: UInt64?),
    batch: (packets: UInt64, program: UInt64, whole: UInt64) = (0, 0, 0), fillRingEmpty: UInt64
  ) throws -> DatapathStatus {
    var socket = SocketStatistics()
    socket.fillRingEmpty = fillRingEmpty
    var forms = TimingByForm()
    forms.perPacket.packets = perPacket.packets
    forms.perPacket.programNanoseconds = perPacket.program
    forms.perPacket.datapathNanoseconds = perPacket.whole
    forms.perPacket.programSpanNanoseconds = perPacket.span ?? perPacket.whole
    forms.batch.packets = batch.packets
    forms.batch.programNanoseconds = batch.program
    forms.batch.datapathNanoseconds = batch.whole
    forms.batch.programSpanNanoseconds = batch.whole
    let encoder = JSONCoding.encoder()
    func json<T: Encodable>(_ value: T) throws -> Any {
      try JSONSerialization.jsonObject(with: encoder.encode(value))
    }
    let object: [String: Any] = [
      "interface": "eth0", "object": "/x.o", "program": "xdp_prog", "datapath": "software",
      "form": "per-packet", "strategy": "reserve", "bound": "end-pointer",
      "batch_available": true, "zero_copy": false, "queues": 1, "pid": pid,
      "started": Double(pid), "pass_device": "eth0-tap",
      "counters": try json(DatapathCounters.Totals()), "socket": try json(socket),
      "forms": try json(forms),
    ]
    return try JSONCoding.decoder().decode(
      DatapathStatus.self, from: JSONSerialization.data(withJSONObject: object))
  }

  static func value(
    _ family: MetricFamily, _ labels: String, in registry: PrometheusCollectorRegistry
  )
    -> Double?
  {
    let prefix = "\(family.name){\(labels)} "
    return registry.emitToString().split(separator: "\n").first { $0.hasPrefix(prefix) }
      .flatMap { Double($0.dropFirst(prefix.count)) }
  }

  @Test func totalsStayContinuousAcrossADatapathRestart() throws {
    let registry = PrometheusCollectorRegistry()
    var series = DatapathSeries(interface: "eth0")
    let perPacket = #"interface="eth0",program="xdp_prog",form="per_packet""#
    let batch = #"interface="eth0",program="xdp_prog",form="batch""#
    let fill = #"interface="eth0",reason="fill_ring_empty""#
    series.record(
      try Self.status(pid: 10, perPacket: (100, 2_000, 5_000, nil), fillRingEmpty: 3),
      registry: registry)
    #expect(Self.value(.datapathPackets, perPacket, in: registry) == 100)
    #expect(Self.value(.datapathProgramSeconds, perPacket, in: registry) == 2e-6)
    #expect(Self.value(.datapathSeconds, perPacket, in: registry) == 5e-6)
    #expect(Self.value(.datapathPackets, batch, in: registry) == 0)
    #expect(Self.value(.socketDropped, fill, in: registry) == 3)
    // The same process counts on.
    series.record(
      try Self.status(
        pid: 10, perPacket: (150, 3_000, 7_000, nil), batch: (64, 640, 1_280), fillRingEmpty: 4),
      registry: registry)
    #expect(Self.value(.datapathPackets, perPacket, in: registry) == 150)
    #expect(Self.value(.datapathPackets, batch, in: registry) == 64)
    #expect(Self.value(.socketDropped, fill, in: registry) == 4)
    // A new process starts from zero: its totals are added on top.
    series.record(
      try Self.status(pid: 11, perPacket: (20, 400, 900, nil), fillRingEmpty: 1), registry: registry
    )
    #expect(Self.value(.datapathPackets, perPacket, in: registry) == 170)
    #expect(Self.value(.datapathPackets, batch, in: registry) == 64)
    #expect(Self.value(.socketDropped, fill, in: registry) == 5)
    let seconds = try #require(Self.value(.datapathProgramSeconds, perPacket, in: registry))
    #expect(abs(seconds - 3.4e-6) < 1e-12)
    series.unregister(from: registry)
    #expect(!registry.emitToString().contains("eth0"))
  }

  /// The datapath times the program on a sample of its RX batches: the
  /// program's share of the sampled batches' time (2,000 of 10,000 ns)
  /// applied to every batch's (50,000 ns over 800 packets) gives the
  /// counter's 10 us and 12.5 ns per packet.
  @Test func programSecondsAreTheSampledShareOfTheWhole() throws {
    let registry = PrometheusCollectorRegistry()
    var series = DatapathSeries(interface: "eth0")
    let perPacket = #"interface="eth0",program="xdp_prog",form="per_packet""#
    let status = try Self.status(
      pid: 10, perPacket: (800, 2_000, 50_000, 10_000), fillRingEmpty: 0)
    series.record(status, registry: registry)
    #expect(Self.value(.datapathPackets, perPacket, in: registry) == 800)
    let seconds = try #require(Self.value(.datapathProgramSeconds, perPacket, in: registry))
    #expect(abs(seconds - 10e-6) < 1e-12)
    #expect(status.forms.perPacket.programShare == 0.2)
    #expect(status.forms.perPacket.programNanosecondsPerPacket == 12.5)
    #expect(status.forms.perPacket.datapathNanosecondsPerPacket == 62.5)
  }

  /// A status from a datapath that timed every batch has no
  /// `program_span_ns`: the span is the whole datapath's time.
  @Test func aStatusWithoutAProgramSpanTimedEveryBatch() throws {
    let json = #"{"packets": 4, "program_ns": 100, "datapath_ns": 400}"#
    let timing = try JSONCoding.decoder().decode(FormTiming.self, from: Data(json.utf8))
    #expect(timing.programSpanNanoseconds == 400)
    #expect(timing.programNanosecondsPerPacket == 25)
  }

  @Test func timingTotalsTravelExactlyThroughTheStatusJSON() throws {
    var timing = FormTiming()
    timing.packets = 3
    timing.programSpanNanoseconds = 20
    timing.programNanoseconds = 10
    timing.datapathNanoseconds = 31
    let decoded = try JSONCoding.decoder().decode(
      FormTiming.self, from: JSONCoding.encoder().encode(timing))
    // 10/3 and 31/3 ns per packet would not give the totals back exactly.
    #expect(decoded == timing)
    let text = String(decoding: try JSONCoding.encoder().encode(timing), as: UTF8.self)
    #expect(text.contains("\"program_ns_per_packet\""), "the per-packet keys stay: \(text)")
  }
}
