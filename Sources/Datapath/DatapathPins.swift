import BPF
import Control

/// What the software datapath pins beside the link and the action counters
/// in the interface's directory, `/sys/fs/bpf/xdpbatch/IFACE/`.
public struct DatapathPins: Hashable, Sendable {
  /// The interface's pin directory.
  public var directory: PinDirectory

  /// The pins of `interface`.
  public init(interface: String, mountPoint: String = "/sys/fs/bpf") {
    directory = PinDirectory(interface: interface, mountPoint: mountPoint)
  }

  /// The XSKMAP the kernel program redirects through (queue -> socket).
  public var socketsPath: String { DatapathRedirect.socketsPath(directory) }
  /// The PROG_ARRAY holding the kernel fallback (pinned, since the kernel
  /// empties a program array when its last user reference goes).
  public var fallbackPath: String { DatapathRedirect.fallbackPath(directory) }
  /// The datapath's own counter records (``DatapathCounters``).
  public var countersPath: String { SoftwareDatapathRecords.path(directory) }

  /// Every path the datapath pins.
  public var all: [String] { [socketsPath, fallbackPath, countersPath] }
}
