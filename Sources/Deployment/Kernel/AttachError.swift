import BPF
import Kernel

/// Why attaching, replacing or detaching a program failed. In every case
/// the interface is left as it was before the call.
public enum AttachError: Error, Sendable {
  /// No interface has that name.
  case interfaceNotFound(String)
  /// Another tool's program is attached; `force` replaces it.
  case foreignProgram(interface: String, program: AttachedProgram)
  /// xdpbatch has no program attached to the interface.
  case notAttached(interface: String)
  /// xdpbatch's program runs in another mode than the one asked for; a
  /// link cannot change mode, so replacing it would silently keep the old one.
  case modeMismatch(interface: String, attached: AttachMode, requested: AttachMode)
  /// The program did not load.
  case load(LoadError)
  /// A kernel call failed.
  case kernel(SystemCallError)
  /// The record of the program about to run could not be written; the
  /// kernel was not changed.
  case record(RecordError)
}

extension AttachError: CustomStringConvertible {
  /// A message naming the interface and the program.
  public var description: String {
    switch self {
    case .interfaceNotFound(let name):
      return "no network interface named \"\(name)\""
    case .foreignProgram(let interface, let program):
      return
        "\(interface) already runs XDP program \"\(program.name ?? "?")\" (id \(program.id), \(program.mode.rawValue) mode) that xdpbatch did not attach"
    case .notAttached(let interface):
      return "xdpbatch has no program attached to \(interface)"
    case .modeMismatch(let interface, let attached, let requested):
      return
        "\(interface) runs xdpbatch's program in \(attached.rawValue) mode, not \(requested.rawValue)"
    case .load(let error):
      return error.description
    case .kernel(let error):
      return error.description
    case .record(let error):
      return error.description
    }
  }
}
