/// The kernel's error numbers (Linux, every architecture xdpbatch runs
/// on), by name: what BPF helpers return negated, what `bpf(2)` sets, and
/// what the engine reports as the kernel would. One table for the engine
/// (which has no C) and Control (whose ``SystemCallError`` carries the
/// number the kernel gave).
public enum Errno {
  /// `EPERM`.
  public static let notPermitted: Int32 = 1
  /// `ENOENT`.
  public static let notFound: Int32 = 2
  /// `EINTR`.
  public static let interrupted: Int32 = 4
  /// `E2BIG`.
  public static let tooBig: Int32 = 7
  /// `ENOMEM`.
  public static let outOfMemory: Int32 = 12
  /// `EACCES`.
  public static let accessDenied: Int32 = 13
  /// `EFAULT`.
  public static let fault: Int32 = 14
  /// `EBUSY`.
  public static let busy: Int32 = 16
  /// `EEXIST`.
  public static let exists: Int32 = 17
  /// `EINVAL`.
  public static let invalid: Int32 = 22
  /// `ENOSPC`.
  public static let noSpace: Int32 = 28
  /// `ENOTSUPP` (the kernel-internal 524 that BPF helpers return).
  public static let notSupported: Int32 = 524
}
