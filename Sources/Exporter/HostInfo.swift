import Deployment
import Foundation
import Glibc

/// What `xdpbatch_info` says about the host: the xdpbatch version, the
/// kernel release and whether the kernel can run batch programs.
public struct HostInfo: Hashable, Sendable {
  /// The xdpbatch version.
  public var version: String
  /// The kernel release (`uname -r`).
  public var kernel: String
  /// `true` or `false` from the BTF probe (``BatchKernelSupport``);
  /// `unknown` when the kernel's BTF could not be read.
  public var batchCapable: String

  /// Describes a host.
  public init(version: String, kernel: String, batchCapable: String) {
    self.version = version
    self.kernel = kernel
    self.batchCapable = batchCapable
  }

  /// This host, probed now, running xdpbatch `version` (the executable
  /// knows its release; this library does not).
  public static func probe(version: String, btfPath: String = BatchKernelSupport.vmlinuxPath)
    -> HostInfo
  {
    var names = utsname()
    uname(&names)
    let release = withUnsafeBytes(of: &names.release) { bytes in
      String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
    let capable = (try? BatchKernelSupport.probe(btfPath: btfPath)).map {
      String($0.isBatchCapable)
    }
    return HostInfo(version: version, kernel: release, batchCapable: capable ?? "unknown")
  }

  /// The label pairs of `xdpbatch_info`.
  var pairs: [(String, String)] {
    [("version", version), ("kernel", kernel), ("batch_capable", batchCapable)]
  }
}
