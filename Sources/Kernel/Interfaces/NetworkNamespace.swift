import CLinux
import Glibc

/// A named network namespace (`ip netns`, a file under `/var/run/netns`),
/// as the demo and the tests use to put the far end of a veth pair out of
/// the host's way. Making and removing one is iproute2's work (the lab's
/// plumbing); entering one is `setns(2)`.
public struct NetworkNamespace: Hashable, Sendable {
  /// The name under `/var/run/netns`.
  public var name: String

  /// Refers to the namespace `name` (which may not exist yet).
  public init(name: String) {
    self.name = name
  }

  /// Whether the namespace exists.
  public var exists: Bool { access(path, F_OK) == 0 }

  /// `/var/run/netns/NAME`.
  public var path: String { "/var/run/netns/" + name }

  /// Moves the calling thread into the namespace. Only that thread moves:
  /// call this on a thread of your own, never on a shared pool thread.
  public func enterOnCurrentThread() throws(SystemCallError) {
    let fd = try check("open \(path)", retryingInterrupts: true) {
      open(path, O_RDONLY | O_CLOEXEC)
    }
    defer { close(fd) }
    try check("setns \(path)") { clinux_enter_network_namespace(fd) }
  }
}

extension NetworkNamespace {
  /// The network namespace the calling thread is in, as its inode number
  /// (`/proc/thread-self/ns/net`: what `ip netns identify` and `lsns`
  /// compare), or nil when /proc cannot say. Interface names are only
  /// meaningful within one namespace.
  public static var currentIdentifier: UInt64? { identifier(at: "/proc/thread-self/ns/net") }

  /// The network namespace process `pid` is in, or nil when /proc cannot
  /// say (the process is gone, or its namespace is not ours to read).
  public static func identifier(ofProcess pid: pid_t) -> UInt64? {
    identifier(at: "/proc/\(pid)/ns/net")
  }

  /// The name under `/var/run/netns` of the namespace `identifier`
  /// (``currentIdentifier``'s inode), or nil when none of the named
  /// namespaces is it (a namespace only a process holds).
  public static func name(ofIdentifier identifier: UInt64) -> String? {
    guard let directory = opendir("/var/run/netns") else { return nil }
    defer { closedir(directory) }
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) {
        String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
      }
      guard name != ".", name != ".." else { continue }
      if Self.identifier(at: "/var/run/netns/" + name) == identifier { return name }
    }
    return nil
  }

  private static func identifier(at path: String) -> UInt64? {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    return UInt64(status.st_ino)
  }
}
