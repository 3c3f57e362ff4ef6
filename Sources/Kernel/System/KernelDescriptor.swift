import Glibc

/// A file descriptor the kernel handed out for a BPF object, a socket or a
/// namespace, owned by exactly one value and closed when that value goes
/// away.
///
/// A class rather than a `~Copyable` struct so that maps and programs can
/// share one descriptor and be stored in arrays; the descriptor itself is
/// never duplicated or closed twice.
public final class KernelDescriptor: Sendable {
  /// The descriptor number, valid while this object lives.
  public let rawValue: Int32

  /// Takes ownership of `rawValue`, which must be an open descriptor.
  public init(owning rawValue: Int32) {
    self.rawValue = rawValue
  }

  deinit {
    close(rawValue)
  }
}
