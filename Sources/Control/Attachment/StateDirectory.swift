import Foundation
import Glibc

/// Where xdpbatch keeps files that must outlive one invocation but not a
/// reboot: attachment records and the demo's generator state
/// (`/run/xdpbatch`).
public struct StateDirectory: Hashable, Sendable {
  /// The directory.
  public var path: String

  /// The directory at `path`.
  public init(path: String = "/run/xdpbatch") {
    self.path = path
  }

  /// Permissions of the directory: root's only, like the pins.
  static let directoryMode: mode_t = 0o700
  /// Permissions of a record and a lock file.
  static let recordMode: mode_t = 0o600

  /// The record file for `interface`.
  public func recordPath(interface: String) -> String { path + "/" + interface + ".json" }

  /// The record of the change under way on `interface`: written before the
  /// kernel changes, renamed over the record after, so that a process
  /// killed in between leaves a record for whichever program the kernel
  /// runs (see ``ProgramDeployment/current(interface:)``).
  public func pendingRecordPath(interface: String) -> String {
    recordPath(interface: interface) + ".next"
  }

  /// Creates the directory if needed (0700); an existing one that others
  /// can read is closed to them.
  public func create() throws(SystemCallError) {
    do {
      try check("create \(path)") { mkdir(path, Self.directoryMode) }
    } catch  where error.code == EEXIST {
      var status = stat()
      if stat(path, &status) == 0, status.st_mode & 0o077 != 0, status.st_uid == getuid() {
        try check("restrict \(path) to its owner") { chmod(path, Self.directoryMode) }
      }
    }
  }

  /// The record for `interface`, `nil` when there is none or it is unreadable.
  public func record(interface: String) -> AttachmentRecord? {
    Self.read(recordPath(interface: interface))
  }

  /// The record of an unfinished change on `interface`, if any.
  public func pendingRecord(interface: String) -> AttachmentRecord? {
    Self.read(pendingRecordPath(interface: interface))
  }

  private static func read(_ path: String) -> AttachmentRecord? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return try? JSONDecoder().decode(AttachmentRecord.self, from: data)
  }

  /// Writes `record` as the pending record of its interface (atomically).
  func savePending(_ record: AttachmentRecord) throws(RecordError) {
    try save(record, to: pendingRecordPath(interface: record.interface))
  }

  /// Makes the pending record the record (one `rename(2)`).
  func promotePending(interface: String) throws(SystemCallError) {
    let pending = pendingRecordPath(interface: interface)
    try check("rename \(pending)") { rename(pending, recordPath(interface: interface)) }
  }

  /// Removes the pending record; quiet when there is none.
  func removePending(interface: String) {
    unlink(pendingRecordPath(interface: interface))
  }

  /// Writes `record` atomically: a temporary file beside it, written and
  /// flushed, then renamed into place, so that a reader (or a process
  /// killed half-way) sees the old record or the new one, never a mix.
  public func save(_ record: AttachmentRecord) throws(RecordError) {
    try save(record, to: recordPath(interface: record.interface))
  }

  private func save(_ record: AttachmentRecord, to file: String) throws(RecordError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data: Data
    do {
      data = try encoder.encode(record)
    } catch {
      throw .unencodable(interface: record.interface, reason: "\(error)")
    }
    do throws(SystemCallError) {
      try create()
      removeAbandonedTemporaries(interface: record.interface)
      try write(data, to: file)
    } catch {
      throw .file(error)
    }
  }

  /// Removes the temporary files of `interface`'s records that processes
  /// killed while writing left (`IFACE.json.tmp.PID`, `IFACE.json.next.tmp.PID`
  /// of a pid that no longer runs).
  func removeAbandonedTemporaries(interface: String) {
    let prefix = interface + ".json"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    for name in names where name.hasPrefix(prefix) {
      let rest = name.dropFirst(prefix.count)
      guard rest.hasPrefix(".tmp.") || rest.hasPrefix(".next.tmp."),
        let pid = rest.split(separator: ".").last.flatMap({ pid_t($0) })
      else { continue }
      if kill(pid, 0) != 0 && errno == ESRCH { unlink(path + "/" + name) }
    }
  }

  /// Writes `data` to `path` through a temporary file and `rename(2)`.
  func write(_ data: Data, to path: String) throws(SystemCallError) {
    let temporary = path + ".tmp.\(getpid())"
    let fd = try check("create \(temporary)") {
      open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, Self.recordMode)
    }
    do throws(SystemCallError) {
      defer { Glibc.close(fd) }
      try check("set the permissions of \(temporary)") { fchmod(fd, Self.recordMode) }
      var written = 0
      let bytes = [UInt8](data)
      while written < bytes.count {
        let offset = written
        written += Int(
          try check("write \(temporary)") {
            bytes.withUnsafeBytes {
              Int32(Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset))
            }
          })
      }
      try check("flush \(temporary)") { fsync(fd) }
      try check("rename \(temporary) to \(path)") { rename(temporary, path) }
    } catch {
      unlink(temporary)
      throw error
    }
  }

  /// Removes the record (and any pending one) for `interface`; quiet
  /// when there is none.
  public func removeRecord(interface: String) {
    unlink(recordPath(interface: interface))
    removePending(interface: interface)
    removeAbandonedTemporaries(interface: interface)
  }
}

/// Why a record could not be written. The previous record, if any, is
/// unchanged.
public enum RecordError: Error, Sendable, CustomStringConvertible {
  /// The record could not be encoded as JSON.
  case unencodable(interface: String, reason: String)
  /// Creating, writing or renaming the file failed.
  case file(SystemCallError)

  /// A message naming the interface or file.
  public var description: String {
    switch self {
    case .unencodable(let interface, let reason):
      "cannot encode the attachment record for \(interface): \(reason)"
    case .file(let error): error.description
    }
  }
}
