import Prometheus

/// The metric families the exporter serves: names and units after
/// Prometheus's naming guide (base units, `_total` on counters), with the
/// help text each carries in the exposition.
public enum MetricFamily: String, CaseIterable, Sendable {
  /// Packets the program returned each action for.
  case packets = "xdpbatch_packets_total"
  /// Bytes of those packets.
  case bytes = "xdpbatch_bytes_total"
  /// Seconds the kernel spent in the program (`run_time_ns`).
  case programRunSeconds = "xdpbatch_program_run_seconds_total"
  /// Times the kernel ran the program (`run_cnt`).
  case programRuns = "xdpbatch_program_runs_total"
  /// Seconds the software datapath spent inside the program, per form.
  case datapathProgramSeconds = "xdpbatch_datapath_program_seconds_total"
  /// Seconds the software datapath spent on frames from taking them off
  /// the RX ring to having acted on them (the program's time included), per form.
  case datapathSeconds = "xdpbatch_datapath_seconds_total"
  /// Frames the software datapath ran through the program, per form: the
  /// denominator of both time families.
  case datapathPackets = "xdpbatch_datapath_packets_total"
  /// The software datapath's seconds per packet in the program, per form,
  /// both forms measured alternately on the same traffic after the last
  /// swap (a gauge: the last such window's figure).
  case datapathComparedProgramSeconds = "xdpbatch_datapath_compared_program_seconds_per_packet"
  /// Frames the kernel dropped at the software datapath's AF_XDP sockets
  /// (`XDP_STATISTICS`), by `reason`.
  case socketDropped = "xdpbatch_socket_dropped_total"
  /// REDIRECT verdicts whose frame did not leave, by `reason` (both datapaths).
  case redirectErrors = "xdpbatch_redirect_errors_total"
  /// The build and the kernel, as labels on a constant 1.
  case info = "xdpbatch_info"

  /// The family's name in the exposition.
  public var name: String { rawValue }

  /// Whether the family is a counter (its OpenMetrics family name then
  /// drops the `_total` suffix its samples keep).
  public var isCounter: Bool { self != .info && self != .datapathComparedProgramSeconds }

  /// The `# HELP` text.
  public var help: String {
    switch self {
    case .packets:
      "Packets the XDP program returned each action for, continuous across program swaps."
    case .bytes:
      "Bytes of the packets the XDP program returned each action for, continuous across program swaps."
    case .programRunSeconds:
      "Seconds the kernel spent running the XDP program (run_time_ns; only while run statistics are on)."
    case .programRuns:
      "Times the kernel ran the XDP program (run_cnt; only while run statistics are on)."
    case .datapathProgramSeconds:
      "Seconds the software datapath spent running the XDP program in the engine, per form (divide its rate by xdpbatch_datapath_packets_total's for seconds per packet)."
    case .datapathSeconds:
      "Seconds the software datapath spent on frames from the RX ring to their verdict's action, the program included, per form."
    case .datapathPackets:
      "Frames the software datapath ran through the XDP program, per form."
    case .datapathComparedProgramSeconds:
      "Seconds per packet the software datapath spent in the XDP program, per form, both forms measured alternately on the same traffic in the window after the last swap (the same datapath, engine and frames)."
    case .socketDropped:
      "Frames dropped at the software datapath's AF_XDP sockets (XDP_STATISTICS), by reason."
    case .redirectErrors:
      "REDIRECT verdicts whose frame did not leave, by reason (the kernel's error name, or dropped); the software datapath's REDIRECT counts only frames that left, the kernel datapath's counts verdicts."
    case .info:
      "The xdpbatch version, the kernel release and whether the kernel can run batch programs."
    }
  }

  /// The descriptor swift-prometheus registers the family under:
  /// namespace `xdpbatch`, the counters' unit suffix `total`.
  var descriptor: MetricNameDescriptor {
    let base = name.dropFirst(Self.namespace.count + 1)
    let metricName = isCounter ? base.dropLast(Self.counterSuffix.count + 1) : base
    return MetricNameDescriptor(
      namespace: Self.namespace, metricName: String(metricName),
      unitName: isCounter ? Self.counterSuffix : "", helpText: help)
  }

  /// The first word of every family's name.
  static let namespace = "xdpbatch"
  /// The last word of every counter's name.
  static let counterSuffix = "total"
}
