import Datapath
import Inspection
import Kernel

/// Why attach, swap or detach failed. The interface, pins and record are
/// as they were before the call.
public enum DeploymentError: Error, Sendable, CustomStringConvertible {
  /// The object or program could not be prepared.
  case source(ProgramSourceError)
  /// Attaching, replacing or detaching failed.
  case attach(AttachError)
  /// The record could not be written.
  case record(RecordError)
  /// The interface's lock could not be taken: another xdpbatch process
  /// is changing it, or the lock file cannot be made.
  case lock(LockError)
  /// The batch form cannot run here.
  case batchUnsupported(BatchRefusal)
  /// The program cannot be offloaded to this interface.
  case offloadUnsupported(OffloadRefusal)
  /// An xdpbatch program is attached, but no record says which.
  case unknownProgram(interface: String)
  /// The interface's driver has no native XDP (loopback, most virtual
  /// devices but veth); generic XDP works everywhere.
  case nativeUnsupported(interface: String)
  /// The software datapath could not start, or did not do what was asked.
  case datapath(DatapathError)
  /// Only another tool's program runs on the interface, and detaching it
  /// was not asked for.
  case foreignOnly(interface: String, program: AttachedProgram)
  /// xdpbatch's record for an interface of this name was made in another
  /// network namespace (`namespace`, its inode; `name` under
  /// /var/run/netns when it has one). The state directory and bpffs are
  /// shared by every network namespace, interface names are not: acting
  /// here would take over that namespace's record, lock and pins.
  case otherNamespace(interface: String, namespace: UInt64, name: String?)

  /// A message saying what failed.
  public var description: String {
    switch self {
    case .source(let error): error.description
    case .attach(let error): error.description
    case .record(let error): error.description
    case .lock(let error): error.description
    case .batchUnsupported(let reason): reason.description
    case .offloadUnsupported(let reason): reason.description
    case .unknownProgram(let interface):
      "xdpbatch has a program on \(interface) but no record of which object it came from"
    case .nativeUnsupported(let interface):
      "cannot attach to \(interface) in native mode: its driver has no native XDP (Operation not supported)"
    case .datapath(let error): error.description
    case .foreignOnly(let interface, let program):
      "\(interface) runs XDP program \"\(program.name ?? "?")\" (id \(program.id), \(program.mode.rawValue) mode) that xdpbatch did not attach"
    case .otherNamespace(let interface, let namespace, let name):
      "xdpbatch's record for \(interface) was made in network namespace "
        + (name.map { "\"\($0)\" (net:[\(namespace)])" } ?? "net:[\(namespace)]")
        + ", not this one: there \(interface) is another interface, whose record, lock and pins "
        + "this one would share; run the command in that namespace ("
        + "`nsenter --net=/run/netns/\(name ?? "NAME") xdpbatch ...`), or detach it there first"
    }
  }
}
