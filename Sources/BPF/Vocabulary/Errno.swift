/// An error number of the Linux kernel, as a value (swift-system's
/// `Errno`): what `bpf(2)` and every other system call set, what BPF
/// helpers return negated, and what the engine reports as the kernel
/// would. One type for the engine (which has no C) and the kernel seam
/// (whose errors carry the number the kernel gave). No error carries a
/// made-up number.
///
/// The numbers are Linux's on every architecture xdpbatch runs on (the
/// generic `asm-generic/errno-base.h` and `errno.h`).
public struct Errno: RawRepresentable, Hashable, Sendable, Error {
  /// The number.
  public var rawValue: Int32

  /// The error numbered `rawValue`.
  public init(rawValue: Int32) { self.rawValue = rawValue }

  /// The error numbered `rawValue`.
  public init(_ rawValue: Int32) { self.rawValue = rawValue }

  /// `EPERM`.
  public static let notPermitted = Errno(1)
  /// `ENOENT`.
  public static let notFound = Errno(2)
  /// `ESRCH`.
  public static let noSuchProcess = Errno(3)
  /// `EINTR`: a signal interrupted the call.
  public static let interrupted = Errno(4)
  /// `EIO`.
  public static let ioError = Errno(5)
  /// `E2BIG`.
  public static let tooBig = Errno(7)
  /// `EBADF`.
  public static let badDescriptor = Errno(9)
  /// `EAGAIN` (also `EWOULDBLOCK`).
  public static let wouldBlock = Errno(11)
  /// `ENOMEM`.
  public static let outOfMemory = Errno(12)
  /// `EACCES`.
  public static let accessDenied = Errno(13)
  /// `EFAULT`.
  public static let fault = Errno(14)
  /// `EBUSY`.
  public static let busy = Errno(16)
  /// `EEXIST`.
  public static let exists = Errno(17)
  /// `ENODEV`.
  public static let noDevice = Errno(19)
  /// `EINVAL`.
  public static let invalid = Errno(22)
  /// `ENOSPC` (the verifier's log is too small).
  public static let noSpace = Errno(28)
  /// `ENAMETOOLONG`.
  public static let nameTooLong = Errno(36)
  /// `EPROTO`.
  public static let protocolError = Errno(71)
  /// `EOPNOTSUPP` (also `ENOTSUP`).
  public static let operationNotSupported = Errno(95)
  /// `EADDRINUSE`.
  public static let addressInUse = Errno(98)
  /// `ECONNRESET`.
  public static let connectionReset = Errno(104)
  /// `ECONNREFUSED`.
  public static let connectionRefused = Errno(111)
  /// `ENOTSUPP` (the kernel-internal 524 that BPF helpers and some BPF
  /// commands return).
  public static let notSupported = Errno(524)

  /// Whether the call failed because the caller lacks a privilege
  /// (`EPERM` or `EACCES`).
  public var isPermissionDenied: Bool { self == .notPermitted || self == .accessDenied }

  /// The value a BPF helper returns for this error: the number negated.
  public static prefix func - (errno: Errno) -> Int32 { -errno.rawValue }
}
