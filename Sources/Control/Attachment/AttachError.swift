/// Why attaching, replacing or detaching a program failed. In every case
/// the interface is left as it was before the call.
public enum AttachError: Error, Sendable {
  /// No interface has that name.
  case interfaceNotFound(String)
  /// Another tool's program is attached; `force` replaces it.
  case foreignProgram(interface: String, program: AttachedProgram)
  /// xdpbatch has no program attached to the interface.
  case notAttached(interface: String)
  /// The program did not load.
  case load(LoadError)
  /// A kernel call failed.
  case kernel(SystemCallError)
}

extension AttachError: CustomStringConvertible {
  /// A message naming the interface, the program and what to do.
  public var description: String {
    switch self {
    case .interfaceNotFound(let name):
      return "no network interface named \"\(name)\" (see `xdpbatch list --all`)"
    case .foreignProgram(let interface, let program):
      return
        "\(interface) already runs XDP program \"\(program.name ?? "?")\" (id \(program.id), \(program.mode.rawValue) mode) that xdpbatch did not attach; detach it first or pass --force to replace it"
    case .notAttached(let interface):
      return "xdpbatch has no program attached to \(interface)"
    case .load(let error):
      return error.description
    case .kernel(let error):
      return error.description
    }
  }
}
