import CLinux
import Glibc

/// A named network namespace (`ip netns`), as the demo and the tests use
/// to put the far end of a veth pair out of the host's way.
public struct NetworkNamespace: Hashable, Sendable {
  /// The name under `/var/run/netns`.
  public var name: String

  /// Refers to the namespace `name` (which may not exist yet).
  public init(name: String) {
    self.name = name
  }

  /// Creates the namespace and brings its loopback up.
  public static func create(_ name: String) throws(PlumbingError) -> NetworkNamespace {
    try IPCommand.run(["netns", "add", name])
    let namespace = NetworkNamespace(name: name)
    do {
      try IPCommand.run(["-n", name, "link", "set", "lo", "up"])
    } catch {
      namespace.delete()
      throw error
    }
    return namespace
  }

  /// Whether the namespace exists.
  public var exists: Bool { access(path, F_OK) == 0 }

  /// `/var/run/netns/NAME`.
  public var path: String { "/var/run/netns/" + name }

  /// Deletes the namespace (and with it every interface inside); quiet
  /// when it is already gone.
  public func delete() {
    try? IPCommand.run(["netns", "delete", name])
  }

  /// Moves the calling thread into the namespace. Only that thread moves:
  /// call this on a thread of your own, never on a shared pool thread.
  public func enterOnCurrentThread() throws(PlumbingError) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw .enter(namespace: name, SystemCallError("open \(path)", code: errno))
    }
    defer { close(fd) }
    guard clinux_enter_network_namespace(fd) == 0 else {
      throw .enter(namespace: name, SystemCallError("setns \(path)", code: errno))
    }
  }
}
