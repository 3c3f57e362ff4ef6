import Glibc
import Kernel

/// What the software datapath pins beside the link and the action counters
/// in the interface's directory, `/sys/fs/bpf/xdpbatch/IFACE/`.
public struct DatapathPins: Hashable, Sendable {
  /// The interface's pin directory.
  public var directory: PinDirectory

  /// The pins of `interface`.
  public init(interface: String, mountPoint: String = "/sys/fs/bpf") {
    directory = PinDirectory(interface: interface, mountPoint: mountPoint)
  }

  /// The datapath's pins in an interface's `directory`.
  public init(directory: PinDirectory) {
    self.directory = directory
  }

  /// The XSKMAP the kernel program redirects through (queue -> socket).
  public var socketsPath: String { directory.path + "/sockets" }
  /// The PROG_ARRAY holding the kernel fallback (pinned, since the kernel
  /// empties a program array when its last user reference goes).
  public var fallbackPath: String { directory.path + "/fallback" }
  /// The datapath's own counter records (``DatapathCounters``).
  public var countersPath: String { directory.path + "/datapath" }

  /// Every path the datapath pins.
  public var all: [String] { [socketsPath, fallbackPath, countersPath] }

  /// Removes the pins (sockets map, fallback, and unless `keepCounters`
  /// the datapath's counters). The link and the action counters belong
  /// to the attachment and go with its detach.
  public func remove(keepCounters: Bool = false) {
    for path in all where !(keepCounters && path == countersPath) { unlink(path) }
  }
}
