import Foundation
import Glibc

/// Whether this process may load and attach XDP programs and read other
/// programs' names: root, or the capabilities CAP_BPF (CAP_SYS_ADMIN on
/// kernels before 5.8) and CAP_NET_ADMIN. Checked once, before a command
/// touches the kernel, so that an unprivileged run is refused with the
/// reason instead of failing halfway or reporting what it could not see
/// as absent.
public enum Privileges {
  /// `CAP_NET_ADMIN`.
  static let netAdmin = 12
  /// `CAP_SYS_ADMIN`.
  static let sysAdmin = 21
  /// `CAP_BPF`.
  static let bpf = 39

  /// Whether the process runs as root (real user id 0).
  public static var isRoot: Bool { getuid() == 0 }

  /// Whether the process has what xdpbatch's kernel work needs.
  public static var sufficient: Bool {
    guard let effective = effectiveCapabilities() else { return geteuid() == 0 }
    let has = { (capability: Int) in effective & (UInt64(1) << UInt64(capability)) != 0 }
    return has(netAdmin) && (has(bpf) || has(sysAdmin))
  }

  /// The effective capability set (`CapEff` in /proc/self/status).
  static func effectiveCapabilities() -> UInt64? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
      return UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
    }
    return nil
  }

  /// Throws ``PrivilegeError`` unless the process is privileged enough
  /// for `command` (`attach`, `demo up`).
  public static func require(for command: String) throws(PrivilegeError) {
    guard sufficient else { throw PrivilegeError(command: command) }
  }
}

/// A command that needs root ran without it.
public struct PrivilegeError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The command, as typed after `xdpbatch`.
  public var command: String

  /// Describes the refusal.
  public init(command: String) {
    self.command = command
  }

  /// `` `xdpbatch attach` needs root (CAP_BPF and CAP_NET_ADMIN) ``.
  public var description: String {
    "`xdpbatch \(command)` needs root (CAP_BPF and CAP_NET_ADMIN)"
  }
}
