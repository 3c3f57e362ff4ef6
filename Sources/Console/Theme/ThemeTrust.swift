import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Which theme folders and files a process may read, and reading them.
///
/// Theme folders can lie where other users write (`share/xdpbatch/themes`
/// beside a copied executable, `$XDPBATCH_THEMES`). A process running as
/// root therefore reads a folder only when it, and every folder above it,
/// belongs to root (or the invoking user) and no one else can write it
/// (a sticky folder such as `/tmp` may lie above), and a file only when it
/// belongs to root (or the invoking user) and no one else can write it.
/// For every user, a symlink in a theme folder is followed only when the
/// invoking user (or root) made it, so a link another user planted to a
/// file they could not name themselves (`/etc/shadow`) is never read; and
/// only regular files of at most ``maximumSize`` bytes are read.
public struct ThemeTrust: Sendable {
  /// The effective user the checks are made for.
  public var user: UInt32
  /// The largest theme file read (64 KiB; the shipped ones are under 1 KiB).
  public static let maximumSize = 64 * 1024

  /// Checks for `user` (default: the process's effective user).
  public init(user: UInt32 = geteuid()) {
    self.user = user
  }

  /// Whether ownership and write permission are checked (root only).
  var checksOwnership: Bool { user == 0 }

  /// The folder's real path when it may be read, else why not; nil when it
  /// does not exist.
  public func directory(_ path: String) -> Result<String, ThemeError>? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    let real = String(cString: resolved)
    guard checksOwnership else { return .success(real) }
    var current = real
    var isTarget = true
    while true {
      var info = stat()
      guard lstat(current, &info) == 0 else {
        return .failure(.untrusted(path: path, reason: "cannot inspect \(current)"))
      }
      if info.st_uid != 0, info.st_uid != user {
        return .failure(.untrusted(path: path, reason: "\(current) belongs to another user"))
      }
      let sticky = info.st_mode & S_ISVTX != 0
      if info.st_mode & 0o022 != 0, isTarget || !sticky {
        return .failure(.untrusted(path: path, reason: "others can write to \(current)"))
      }
      if current == "/" { break }
      current = (current as NSString).deletingLastPathComponent
      if current.isEmpty { current = "/" }
      isTarget = false
    }
    return .success(real)
  }

  /// The text of theme file `path`; `inFolder` when it was found in a
  /// theme folder (symlinks there are followed only when the invoking user
  /// or root made them), false when the user named it.
  public func read(_ path: String, inFolder: Bool) -> Result<String, ThemeError> {
    var link = stat()
    guard lstat(path, &link) == 0 else {
      return .failure(.unreadable(path: path, reason: String(cString: strerror(errno))))
    }
    let isLink = link.st_mode & S_IFMT == S_IFLNK
    if inFolder, isLink, link.st_uid != 0, link.st_uid != user {
      return .failure(.untrusted(path: path, reason: "a symlink made by another user"))
    }
    let flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | (isLink ? 0 : O_NOFOLLOW)
    let descriptor = open(path, flags)
    guard descriptor >= 0 else {
      return .failure(.unreadable(path: path, reason: String(cString: strerror(errno))))
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
      return .failure(.untrusted(path: path, reason: "not a regular file"))
    }
    if checksOwnership {
      if info.st_uid != 0, info.st_uid != user {
        return .failure(.untrusted(path: path, reason: "the file belongs to another user"))
      }
      if info.st_mode & 0o022 != 0 {
        return .failure(.untrusted(path: path, reason: "others can write to the file"))
      }
    }
    guard info.st_size <= Self.maximumSize else {
      return .failure(.untrusted(path: path, reason: "larger than \(Self.maximumSize) bytes"))
    }
    var bytes = [UInt8](repeating: 0, count: Self.maximumSize + 1)
    var count = 0
    while count < bytes.count {
      let got = bytes.withUnsafeMutableBytes {
        Glibc.read(descriptor, $0.baseAddress! + count, $0.count - count)
      }
      if got < 0, errno == EINTR { continue }
      guard got >= 0 else {
        return .failure(.unreadable(path: path, reason: String(cString: strerror(errno))))
      }
      if got == 0 { break }
      count += got
    }
    guard count <= Self.maximumSize else {
      return .failure(.untrusted(path: path, reason: "larger than \(Self.maximumSize) bytes"))
    }
    guard let text = String(validating: bytes[..<count], as: UTF8.self) else {
      return .failure(.unreadable(path: path, reason: "not UTF-8 text"))
    }
    return .success(text)
  }

  /// The running executable's path, from `/proc/self/exe` (never from
  /// `argv[0]`, which the caller chooses).
  public static func executablePath() -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
  }
}
