import BPF
import Foundation
import Kernel
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Whether this process can use BPF and make namespaces; the reason when
/// not. Suites that touch the kernel are enabled on it, so that without
/// root they are skipped with the reason, never passed.
public enum KernelAccess {
  /// Why the kernel cannot be used here, `nil` when it can.
  public static let unavailableReason: String? = {
    if getuid() != 0 { return "needs root (BPF syscalls, namespaces)" }
    let probe = MapDefinition(name: "probe", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)
    do {
      _ = try KernelMap.create(probe)
    } catch {
      return "BPF is not usable here: \(error)"
    }
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
    if !ip.contains(where: FileManager.default.isExecutableFile(atPath:)) {
      return "iproute2's ip is not installed"
    }
    return nil
  }()

  /// Whether the kernel can be used.
  public static var available: Bool { unavailableReason == nil }
  /// The reason, for `.enabled(if:_:)`.
  public static var comment: Comment {
    Comment(rawValue: unavailableReason ?? "root and BPF available")
  }
}
