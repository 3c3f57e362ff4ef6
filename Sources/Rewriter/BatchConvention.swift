import BPF

/// How a batch program is called and how it hands back what it decided:
/// the engine's convention, or that of a kernel with the batch patches.
public enum BatchConvention: Hashable, Sendable {
  /// The engine's: R2 holds the record count and the program returns it;
  /// a program that redirects calls the engine's `commitRedirect` helper
  /// after each record.
  case engine
  /// A kernel's (`BPF_F_XDP_BATCH`, ``KernelBatchInterface``): R2 holds
  /// the end of the records, the bound the kernel's verifier checks record
  /// pointers against, so only ``BatchBound/endPointer`` applies; the
  /// program returns 0 (the kernel reads the verdicts from the records);
  /// a program that redirects calls the kernel function `commitFunction`
  /// (`bpf_xdp_batch_commit`, by BTF id) after each record.
  case kernel(commitFunction: Int32?)

  /// The convention of the kernel `interface` describes.
  public init(kernel interface: KernelBatchInterface) {
    self = .kernel(commitFunction: interface.commitFunction)
  }

  /// `engine` or `kernel`, as `rewrite --json` reports it.
  public var name: String {
    switch self {
    case .engine: "engine"
    case .kernel: "kernel"
    }
  }
}
