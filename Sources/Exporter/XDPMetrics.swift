import Control
import Foundation
import Prometheus
import Synchronization

/// The exporter's metrics: one set of series per interface where xdpbatch
/// has attached a program (a directory under `/sys/fs/bpf/xdpbatch`),
/// read from the pinned counters map and the attached program's run
/// statistics, and `xdpbatch_info`.
///
/// Reading only looks: the pinned map is read with lookups, the program's
/// statistics with `bpf_obj_get_info_by_fd`; nothing the datapath uses is
/// written. An interface that disappears, or whose program is detached,
/// loses its series at the next ``refresh()``; the others carry on.
public final class XDPMetrics: Sendable {
  /// The registry the families live in (swift-prometheus renders it).
  public let registry = PrometheusCollectorRegistry()
  private let deployment: ProgramDeployment
  private let pinRoot: String
  private let clock: @Sendable () -> Double
  private let series = Mutex<[String: InterfaceSeries]>([:])

  /// Metrics for the attachments `deployment` knows, under the pins in
  /// `pinRoot`, with `host` as `xdpbatch_info`.
  public init(
    host: HostInfo, deployment: ProgramDeployment = ProgramDeployment(),
    pinRoot: String = PinDirectory(interface: "").root,
    clock: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }
  ) {
    self.deployment = deployment
    self.pinRoot = pinRoot
    self.clock = clock
    registry.makeGauge(descriptor: MetricFamily.info.descriptor, labels: host.pairs).set(to: 1.0)
  }

  /// The interfaces with series now, sorted.
  public var interfaces: [String] {
    series.withLock { $0.keys.sorted() }
  }

  /// Samples every interface xdpbatch has pins for, adds what each
  /// counted since the last refresh, and drops the series of interfaces
  /// that are gone or no longer run an xdpbatch program.
  public func refresh() {
    let names = Set(
      (try? FileManager.default.contentsOfDirectory(atPath: pinRoot)) ?? [])
    series.withLock { series in
      for name in names.sorted() {
        if let (sample, labels) = read(interface: name) {
          series[name, default: InterfaceSeries(interface: name)].record(
            sample, labels: labels, registry: registry)
        } else {
          series.removeValue(forKey: name)?.unregister(from: registry)
        }
      }
      for (name, gone) in series where !names.contains(name) {
        gone.unregister(from: registry)
        series.removeValue(forKey: name)
      }
    }
  }

  /// Refreshes, then renders every family in `format`.
  public func exposition(_ format: ExpositionFormat) -> String {
    refresh()
    return format.render(registry.emitToString())
  }

  /// A sample of `interface`'s counters and the labels of what runs
  /// there; `nil` when the interface or its attachment is gone (or
  /// cannot be read: the reason is not the scraper's business, and the
  /// other interfaces are still served).
  private func read(interface: String) -> (CounterSample, SeriesLabels)? {
    guard let (attachment, record) = try? deployment.current(interface: interface),
      let sample = try? attachment.sample(at: clock())
    else { return nil }
    let kernelName = record == nil ? (try? attachment.program().name) ?? "unknown" : ""
    return (sample, SeriesLabels(interface: interface, record: record, kernelName: kernelName))
  }
}
