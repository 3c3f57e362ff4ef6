import CBPF

/// The kinds of program xdpbatch loads: the XDP programs it attaches, and
/// the raw tracepoint programs that count what the kernel reports of them
/// (``RawTracepointLink``).
public enum ProgramType: Sendable {
  /// `BPF_PROG_TYPE_XDP`.
  case xdp
  /// `BPF_PROG_TYPE_RAW_TRACEPOINT`: the context is the tracepoint's
  /// arguments, one `u64` each.
  case rawTracepoint

  var kernelType: bpf_prog_type {
    switch self {
    case .xdp: BPF_PROG_TYPE_XDP
    case .rawTracepoint: BPF_PROG_TYPE_RAW_TRACEPOINT
    }
  }

  var expectedAttachType: bpf_attach_type {
    switch self {
    case .xdp: BPF_XDP
    case .rawTracepoint: bpf_attach_type(rawValue: 0)
    }
  }
}
