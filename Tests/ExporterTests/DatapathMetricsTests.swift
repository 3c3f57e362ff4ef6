import BPF
import Datapath
import Foundation
import Frames
import Glibc
import Kernel
import KernelTestSupport
import Lab
import TestSupport
import Testing

@testable import Exporter

/// The software datapath's families against a real datapath on a veth pair
/// the test makes: time and frames per form agree with the datapath's own
/// status, the sockets' drops are there by reason, the scrape passes
/// `promtool check metrics`, a stopped (SIGSTOP) datapath does not hold a
/// scrape and is not killed by the exporter's abandoned request, and
/// `detach` takes the families away.
@Suite(
  .serialized,
  .enabled(if: getuid() == 0, "needs root (namespaces, BPF, AF_XDP, TAP)"),
  .enabled(if: access("/dev/net/tun", F_OK) == 0, "no /dev/net/tun for the PASS device"),
  .enabled(if: BuiltXDPBatch.url != nil, Comment(rawValue: BuiltXDPBatch.missing)),
  .enabled(
    if: PrometheusServer.promtool != nil,
    "promtool is not installed (`make deps` installs Debian's prometheus)"),
  .enabled(
    if: FileManager.default.fileExists(atPath: PackageLayout.sample("xdp_classify")),
    Comment(rawValue: PackageLayout.samplesMissing)))
struct DatapathMetricsTests {
  /// UDP to port 9: xdp_classify drops it.
  static let dropped = FrameTemplate.udp(
    from: [2, 0, 0, 0, 0, 2], to: [2, 0, 0, 0, 0, 0x99], source: [198, 18, 0, 2],
    destination: [198, 18, 0, 1], destinationPort: 9)

  /// The value of `family{labels}` in `text`, labels in exposition order.
  static func value(_ family: MetricFamily, _ labels: [(String, String)], in text: String)
    -> Double?
  {
    let rendered = labels.map { "\($0)=\"\($1)\"" }.joined(separator: ",")
    let prefix = "\(family.name){\(rendered)} "
    return text.split(separator: "\n").first { $0.hasPrefix(prefix) }
      .flatMap { Double($0.dropFirst(prefix.count)) }
  }

  static func send(_ network: TestNetwork, count: UInt64) throws {
    let generator = TrafficGenerator.start(
      .init(
        frames: [dropped], interface: network.veth.peer, namespace: network.namespace,
        framesPerRun: 64, limit: count, framesPerSecond: 20_000))
    if let failure = generator.wait() { throw failure }
  }

  /// Waits until the datapath has run `count` frames in all.
  static func waitForFrames(_ client: DatapathClient, _ count: UInt64) -> Bool {
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
      if let forms = try? client.status().forms,
        forms.perPacket.packets + forms.batch.packets >= count
      {
        return true
      }
      usleep(50_000)
    }
    return false
  }

  @Test func softwareDatapathFamiliesFollowItsStatus() throws {
    let network = try TestNetwork(prefix: "xbe")
    let interface = network.veth.name
    defer {
      _ = try? BuiltXDPBatch.run(["detach", interface])
      SoftwareDatapath.removeLeftovers(interface: interface)
      network.tearDown()
    }
    let attached = try BuiltXDPBatch.run([
      "attach", interface, PackageLayout.sample("xdp_classify"), "--program", "xdp_classify_prog",
      "--datapath", "software", "--form", "per-packet",
    ])
    try #require(attached.status == 0, "\(attached.errors)")
    let metrics = XDPMetrics(host: HostInfo(version: "test", kernel: "test", batchCapable: "false"))
    let client = DatapathClient(interface: interface)

    // Per-packet frames, then batch frames: each form's series holds what
    // the datapath says it ran in that form.
    try Self.send(network, count: 3000)
    try #require(Self.waitForFrames(client, 3000))
    let swapped = try BuiltXDPBatch.run(["swap", interface])
    try #require(swapped.status == 0, "\(swapped.errors)")
    try Self.send(network, count: 2000)
    try #require(Self.waitForFrames(client, 5000))
    // Nothing more arrives: the status and the scrape see the same totals.
    let status = try client.status()
    let text = metrics.exposition(.text)
    for form in Form.allCases {
      let labels = [
        ("interface", interface), ("program", "xdp_classify_prog"),
        ("form", form.rawValue.replacingOccurrences(of: "-", with: "_")),
      ]
      let timing = status.forms[form]
      #expect(timing.packets > 0, "\(form) ran frames")
      #expect(
        Self.value(.datapathPackets, labels, in: text) == Double(timing.packets),
        "\(form): \(text)")
      let program = try #require(Self.value(.datapathProgramSeconds, labels, in: text))
      let whole = try #require(Self.value(.datapathSeconds, labels, in: text))
      // The program's share of the timed batches, applied to every batch.
      #expect(abs(program - timing.estimatedProgramNanoseconds / 1e9) < 1e-9)
      #expect(abs(whole - Double(timing.datapathNanoseconds) / 1e9) < 1e-9)
      #expect(program > 0 && whole >= program, "\(form): the program's time is part of the whole")
    }
    // Both forms measured on the same traffic after the swap: the gauge
    // holds the window's seconds per packet.
    let comparison = try #require(status.comparison)
    for form in Form.allCases {
      let labels = [
        ("interface", interface), ("program", "xdp_classify_prog"),
        ("form", form.rawValue.replacingOccurrences(of: "-", with: "_")),
      ]
      let cost = try #require(comparison[form].programNanosecondsPerPacket, "\(form)")
      let gauge = try #require(Self.value(.datapathComparedProgramSeconds, labels, in: text))
      #expect(abs(gauge - cost / 1e9) < 1e-12, "\(form): \(gauge) against \(cost) ns")
    }
    for (reason, count) in DatapathSeries.dropReasons {
      #expect(
        Self.value(.socketDropped, [("interface", interface), ("reason", reason)], in: text)
          == Double(count(status.socket)), "\(reason)")
    }
    let check = try promtool(["check", "metrics"], input: text)
    #expect(check.status == 0 && check.output.isEmpty, "promtool check metrics: \(check.output)")
    let openMetrics = metrics.exposition(.openMetrics)
    #expect(openMetrics.contains("# TYPE xdpbatch_datapath_program_seconds counter"))

    // A stopped datapath: the scrape still completes (the request times
    // out), the kernel's families are served, the datapath's keep their values.
    let record = try #require(StateDirectory().record(interface: interface)?.process)
    kill(record.pid, SIGSTOP)
    let scraped = LineBuffer()
    let scrape = Thread { scraped.append(Data(metrics.exposition(.text).utf8)) }
    scrape.start()
    var waited = 0
    while scraped.text.isEmpty && waited < 200 {
      usleep(50_000)
      waited += 1
    }
    kill(record.pid, SIGCONT)
    let stuck = scraped.text
    try #require(!stuck.isEmpty, "a scrape with the datapath stopped never finished")
    #expect(stuck.contains("xdpbatch_packets_total{interface=\"\(interface)\""))
    let perPacket = [
      ("interface", interface), ("program", "xdp_classify_prog"), ("form", "per_packet"),
    ]
    #expect(
      Self.value(.datapathPackets, perPacket, in: stuck)
        == Double(status.forms.perPacket.packets))
    // Resumed, the datapath answers the abandoned request into a closed
    // socket: it must survive that.
    usleep(300_000)
    #expect(record.isAlive, "the datapath died answering a request its client gave up")
    #expect((try? client.status()) != nil)

    // Detached: the datapath's families go with it.
    let detached = try BuiltXDPBatch.run(["detach", interface])
    #expect(detached.status == 0, "\(detached.errors)")
    let after = metrics.exposition(.text)
    #expect(!after.contains("interface=\"\(interface)\""), "\(after)")
  }
}
