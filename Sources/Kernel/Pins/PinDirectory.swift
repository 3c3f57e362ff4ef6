import BPF
import CLinux
import Foundation
import Glibc

/// The bpf filesystem where xdpbatch pins what must outlive the process:
/// one directory per interface, `/sys/fs/bpf/xdpbatch/IFACE/` (the name
/// escaped: bpffs refuses dots), holding the
/// XDP link (`link`) and the action counters (`counters`).
public struct PinDirectory: Hashable, Sendable {
  /// The bpffs mount point.
  public var mountPoint: String
  /// The interface the directory belongs to.
  public var interface: String

  /// The directory for `interface` under `mountPoint`.
  public init(interface: String, mountPoint: String = "/sys/fs/bpf") {
    self.interface = interface
    self.mountPoint = mountPoint
  }

  /// `/sys/fs/bpf/xdpbatch`.
  public var root: String { mountPoint + "/xdpbatch" }
  /// `/sys/fs/bpf/xdpbatch/IFACE`, the name escaped by ``pinName(of:)``.
  public var path: String { root + "/" + Self.pinName(of: interface) }

  /// A bpffs file name for `interface`: bpffs refuses names with a dot
  /// (EPERM), which VLAN interfaces (`eth0.100`) have, so `%` and `.` are
  /// written as `%25` and `%2e`. Distinct interface names stay distinct;
  /// names without either are unchanged.
  public static func pinName(of interface: String) -> String {
    var name = ""
    for character in interface {
      switch character {
      case "%": name += "%25"
      case ".": name += "%2e"
      default: name.append(character)
      }
    }
    return name
  }
  /// Where the XDP link is pinned.
  public var linkPath: String { path + "/link" }
  /// Where the action-counters map is pinned.
  public var countersPath: String { path + "/counters" }
  /// The kernel datapath's failed redirects by reason (a hash map the
  /// programs of ``tracerLinkPaths`` count into).
  public var redirectErrorsPath: String { path + "/redirect_errors" }
  /// The links of the raw tracepoint programs that count failed redirects
  /// (`xdp:xdp_redirect_err`, `xdp:xdp_devmap_xmit`).
  public var tracerLinkPaths: [String] {
    [path + "/trace_redirect_err", path + "/trace_devmap_xmit"]
  }

  /// Whether `path` exists.
  public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

  /// Mounts a bpf filesystem at ``mountPoint`` unless one is there.
  ///
  /// Refused unless this process is in init's mount namespace: in one of
  /// its own (`ip netns exec` makes one, with a fresh `/sys` and no
  /// bpffs), a bpf filesystem mounted now goes when the command ends, and
  /// the pinned link with it, so the program would be detached right
  /// after the command said it attached it. Also refused when that cannot
  /// be told (init's namespace unreadable): the error names both ways out.
  public func ensureMounted() throws(SystemCallError) {
    switch clinux_is_bpffs(mountPoint) {
    case 1: return
    case 0: break
    default:
      try check("create \(mountPoint)") { mkdir(mountPoint, 0o700) }
    }
    guard Self.isInInitsMountNamespace else {
      throw SystemCallError(
        "pin in \(mountPoint): no bpf filesystem is mounted there, and this command may run in "
          + "a mount namespace of its own (`ip netns exec` makes one), where one mounted now "
          + "would go with the command, detaching the program; run xdpbatch with "
          + "`nsenter --net=/run/netns/NAME`, which keeps the host's mounts, or mount one "
          + "(`mount -t bpf bpf \(mountPoint)`) where it stays", errno: .notFound)
    }
    try check("mount a bpf filesystem at \(mountPoint)") { clinux_mount_bpffs(mountPoint) }
  }

  /// Whether this process is known to be in init's mount namespace.
  static var isInInitsMountNamespace: Bool {
    var own = stat()
    var inits = stat()
    guard stat("/proc/self/ns/mnt", &own) == 0, stat("/proc/1/ns/mnt", &inits) == 0 else {
      return false
    }
    return own.st_ino == inits.st_ino && own.st_dev == inits.st_dev
  }

  /// Creates the interface's directory (and `xdpbatch/`); returns the
  /// directories it created, deepest last, so a rollback can remove them.
  ///
  /// The root is shared by every interface: another interface's command
  /// may make it between the look and the `mkdir` (`EEXIST`: fine), or
  /// remove it, empty, before this interface's directory is made in it
  /// (`ENOENT`: made again, a few times).
  public func create() throws(SystemCallError) -> [String] {
    var created: [String] = []
    for attempt in 0..<5 {
      var rootVanished = false
      for directory in [root, path] where !Self.exists(directory) {
        if mkdir(directory, 0o700) == 0 {
          created.append(directory)
          continue
        }
        let code = errno
        if code == EEXIST { continue }
        if code == ENOENT, directory == path, attempt < 4 {
          rootVanished = true
          break
        }
        throw SystemCallError("create \(directory)", errno: Errno(code))
      }
      if !rootVanished { break }
    }
    return created
  }

  /// The interface's action counters: the pinned map, or a fresh one
  /// pinned now (then `created` is true, so that a rollback can unpin it).
  public func openOrCreateCounters() throws(SystemCallError) -> (
    counters: ActionCounters, created: Bool
  ) {
    if Self.exists(countersPath) {
      return (try ActionCounters.open(pinnedAt: countersPath), false)
    }
    let counters = try ActionCounters.create()
    try counters.map.pin(at: countersPath)
    return (counters, true)
  }

  /// Removes the link and counters pins and the directories, whatever
  /// else of xdpbatch's is left there.
  public func removeAttachmentPins() {
    unlink(linkPath)
    unlink(countersPath)
    removeDirectories()
  }

  /// Removes the interface's directory, and `xdpbatch/` when it is left
  /// empty, with the failed-redirect tracer's pins (which serve only the
  /// attachment). Other files in them are left alone (the removal then
  /// fails quietly).
  public func removeDirectories() {
    for path in tracerLinkPaths + [redirectErrorsPath] { unlink(path) }
    rmdir(path)
    rmdir(root)
  }
}
