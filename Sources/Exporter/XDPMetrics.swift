import BPF
import Datapath
import Deployment
import Foundation
import Kernel
import Prometheus
import Synchronization

/// The exporter's metrics: one set of series per interface where xdpbatch
/// has attached a program (a directory under `/sys/fs/bpf/xdpbatch`),
/// read from the pinned counters map and the attached program's run
/// statistics, and `xdpbatch_info`. Where the software datapath runs (its
/// process alive), its status adds the time and socket-drop families
/// (``DatapathSeries``), asked for with a short timeout so that a stuck
/// datapath delays a scrape by at most ``datapathTimeout`` and its series
/// keep their last values.
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
  private let datapaths = Mutex<[String: DatapathSeries]>([:])
  private let redirectErrors = Mutex<[String: RedirectErrorSeries]>([:])
  /// How long one datapath's control socket may take to answer (seconds).
  public let datapathTimeout: Double

  /// Metrics for the attachments `deployment` knows, under the pins in
  /// `pinRoot`, with `host` as `xdpbatch_info`.
  public init(
    host: HostInfo, deployment: ProgramDeployment = ProgramDeployment(),
    pinRoot: String = PinDirectory(interface: "").root,
    clock: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime },
    datapathTimeout: Double = 0.5
  ) {
    self.deployment = deployment
    self.datapathTimeout = datapathTimeout
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
          refreshDatapath(name, running: labels.datapath == "software")
        } else {
          series.removeValue(forKey: name)?.unregister(from: registry)
          refreshDatapath(name, running: false, attached: false)
        }
      }
      for (name, gone) in series where !names.contains(name) {
        gone.unregister(from: registry)
        series.removeValue(forKey: name)
        refreshDatapath(name, running: false, attached: false)
      }
    }
  }

  /// Adds what `interface`'s software datapath counted, when it `running`;
  /// removes its series when not (then the kernel's failed redirects are
  /// recorded while xdpbatch's program is `attached`, removed when not).
  /// A datapath that does not answer within ``datapathTimeout`` keeps its
  /// series as they were.
  private func refreshDatapath(_ interface: String, running: Bool, attached: Bool = true) {
    datapaths.withLock { datapaths in
      guard running else {
        datapaths.removeValue(forKey: interface)?.unregister(from: registry)
        // The kernel datapath's tracer, while xdpbatch's program is
        // attached there (its pins may outlive a deleted interface).
        recordRedirectErrors(
          interface, attached ? RedirectErrorTracer.read(interface: interface) : nil)
        return
      }
      let client = DatapathClient(
        interface: interface, state: deployment.state, timeout: datapathTimeout)
      guard let status = try? client.status(), status.interface == interface else { return }
      datapaths[interface, default: DatapathSeries(interface: interface)].record(
        status, registry: registry)
      recordRedirectErrors(interface, status.redirectErrors)
    }
  }

  /// Adds `errors` (the running datapath's failed redirects: the software
  /// datapath's status, or the kernel's tracer) to `interface`'s
  /// ``MetricFamily/redirectErrors`` series; none (the interface or its
  /// attachment gone, or a kernel datapath without its tracer) removes them.
  private func recordRedirectErrors(_ interface: String, _ errors: RedirectErrors?) {
    redirectErrors.withLock { all in
      guard let errors else {
        all.removeValue(forKey: interface)?.unregister(from: registry)
        return
      }
      all[interface, default: RedirectErrorSeries(interface: interface)].record(
        errors, registry: registry)
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
