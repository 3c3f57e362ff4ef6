import CBPF
import Glibc

/// A raw tracepoint program attached to a kernel tracepoint
/// (`BPF_RAW_TRACEPOINT_OPEN`), held by a link that a pin keeps alive
/// past the process.
public struct RawTracepointLink: Sendable {
  /// The open link.
  public let descriptor: KernelDescriptor

  /// Attaches `program` (a ``ProgramType/rawTracepoint`` program) to the
  /// tracepoint `name` (`xdp_redirect_err`: the name without its system).
  public static func attach(_ program: LoadedProgram, to name: String) throws(SystemCallError)
    -> RawTracepointLink
  {
    let fd = try check("attach \"\(program.name)\" to the tracepoint \(name)") {
      bpf_raw_tracepoint_open(name, program.descriptor.rawValue)
    }
    return RawTracepointLink(descriptor: KernelDescriptor(owning: fd))
  }

  /// Opens the link pinned at `path`.
  public static func open(pinnedAt path: String) throws(SystemCallError) -> RawTracepointLink {
    let fd = try check("open pinned link \(path)") { bpf_obj_get(path) }
    return RawTracepointLink(descriptor: KernelDescriptor(owning: fd))
  }

  /// Pins the link at `path`: the program stays attached until the pin
  /// is removed.
  public func pin(at path: String) throws(SystemCallError) {
    try check("pin link at \(path)") { bpf_obj_pin(descriptor.rawValue, path) }
  }
}
