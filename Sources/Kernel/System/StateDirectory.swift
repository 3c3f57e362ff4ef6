import BPF
import Foundation
import Glibc

/// Where xdpbatch keeps files that must outlive one invocation but not a
/// reboot (`/run/xdpbatch`, root's only): attachment records, locks, the
/// software datapath's control sockets and logs, the demo's generator
/// state. Files are written whole or not at all (``write(_:to:)``).
public struct StateDirectory: Hashable, Sendable {
  /// The directory.
  public var path: String

  /// The directory at `path`.
  public init(path: String = "/run/xdpbatch") {
    self.path = path
  }

  /// Permissions of the directory: root's only, like the pins.
  public static let directoryMode: mode_t = 0o700
  /// Permissions of a record, a lock file and a log.
  public static let fileMode: mode_t = 0o600

  /// The file `name` in the directory.
  public func file(_ name: String) -> String { path + "/" + name }

  /// Creates the directory if needed (0700); an existing one that others
  /// can read is closed to them.
  public func create() throws(SystemCallError) {
    do {
      try check("create \(path)") { mkdir(path, Self.directoryMode) }
    } catch  where error.errno == .exists {
      var status = stat()
      if stat(path, &status) == 0, status.st_mode & 0o077 != 0, status.st_uid == getuid() {
        try check("restrict \(path) to its owner") { chmod(path, Self.directoryMode) }
      }
    }
  }

  /// How many times a file is made again in a directory removed meanwhile
  /// (``remadeAfterRemoval(_:)``).
  public static let removalRetries = 3

  /// Whether a failure with `code` to make a file in the directory was the
  /// directory going away meanwhile, and it is back: `demo down` removes
  /// it when it finds it empty (`rmdir(2)` fails with ENOTEMPTY otherwise),
  /// which can fall between a ``create()`` and the first file made in it.
  /// Makes it again as ``create()`` does (0700); the caller then makes
  /// its file again. Once a command's first file (its lock) is there, the
  /// directory is not empty and stays.
  public func remadeAfterRemoval(_ code: Errno) -> Bool {
    guard code == .notFound, access(path, F_OK) != 0 else { return false }
    return (try? create()) != nil
  }

  /// Runs `make`, which makes a file in the directory, and runs it again
  /// (up to ``removalRetries`` times) when it failed because the
  /// directory went meanwhile and ``remadeAfterRemoval(_:)`` made it
  /// again. `errno` reads the failure's error number, nil when it has none.
  public func makingFile<Made, Failure: Error>(
    _ make: () throws(Failure) -> Made, errno: (Failure) -> Errno?
  ) throws(Failure) -> Made {
    var attempt = 0
    while true {
      do {
        return try make()
      } catch {
        guard attempt < Self.removalRetries, let code = errno(error), remadeAfterRemoval(code)
        else { throw error }
        attempt += 1
      }
    }
  }

  /// ``makingFile(_:errno:)`` for a system call's failure.
  public func makingFile<Made>(
    _ make: () throws(SystemCallError) -> Made
  ) throws(SystemCallError) -> Made {
    try makingFile(make, errno: { $0.errno })
  }

  /// Writes `data` to `file` atomically: a temporary file beside it
  /// (`FILE.tmp.PID`), written, flushed and renamed into place, so that a
  /// reader (or a process killed half-way) sees the old contents or the
  /// new, never a mix. A directory removed meanwhile is made again.
  public func write(_ data: Data, to file: String) throws(SystemCallError) {
    let temporary = file + ".tmp.\(getpid())"
    let fd = try makingFile { () throws(SystemCallError) in
      try check("create \(temporary)", retryingInterrupts: true) {
        open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, Self.fileMode)
      }
    }
    do throws(SystemCallError) {
      defer { Glibc.close(fd) }
      try check("set the permissions of \(temporary)") { fchmod(fd, Self.fileMode) }
      try DescriptorIO.write([UInt8](data), to: fd, "write \(temporary)")
      try check("flush \(temporary)", retryingInterrupts: true) { fsync(fd) }
      try check("rename \(temporary) to \(file)") { rename(temporary, file) }
    } catch {
      unlink(temporary)
      throw error
    }
  }

  /// Removes every temporary file of a writer that no longer runs, in the
  /// whole directory: ours (`NAME.tmp.PID`, ``write(_:to:)``) and those
  /// Foundation's atomic writes left there before every write went
  /// through ``write(_:to:)`` (`.dat.nosyncPID.XXXXXX`, the pid in
  /// hexadecimal). A live writer's file stays; so does any other file.
  public func removeAbandonedTemporaries() {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    for name in names {
      guard let pid = Self.writer(ofTemporary: name) else { continue }
      if kill(pid, 0) != 0 && errno == ESRCH { unlink(file(name)) }
    }
  }

  /// The pid of the process writing the temporary file `name`, nil when
  /// `name` is not a temporary file's.
  static func writer(ofTemporary name: String) -> pid_t? {
    let foundation = ".dat.nosync"
    if name.hasPrefix(foundation) {
      let parts = name.dropFirst(foundation.count).split(
        separator: ".", omittingEmptySubsequences: false)
      guard parts.count == 2, parts[1].count == 6 else { return nil }
      return pid_t(parts[0], radix: 16)
    }
    let parts = name.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count >= 3, !parts[0].isEmpty, parts[parts.count - 2] == "tmp" else {
      return nil
    }
    return pid_t(parts[parts.count - 1])
  }

  /// Removes the temporary files that processes killed while writing
  /// `file` (a file of this directory, by path or name) or one of its
  /// variants left (`FILE.tmp.PID`, `FILE.VARIANT.tmp.PID` of a pid that
  /// no longer runs).
  public func removeAbandonedTemporaries(of file: String) {
    let base = URL(fileURLWithPath: file).lastPathComponent
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    for name in names where name.hasPrefix(base) {
      let parts = name.dropFirst(base.count).split(separator: ".", omittingEmptySubsequences: false)
      // "", ["VARIANT",] "tmp", PID
      guard parts.count == 3 || parts.count == 4, parts[0].isEmpty,
        parts[parts.count - 2] == "tmp", let pid = pid_t(parts[parts.count - 1])
      else { continue }
      if kill(pid, 0) != 0 && errno == ESRCH { unlink(self.file(name)) }
    }
  }
}
