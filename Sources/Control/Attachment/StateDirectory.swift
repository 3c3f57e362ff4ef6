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

  /// Permissions of the directory.
  static let directoryMode: mode_t = 0o755
  /// Permissions of a record.
  static let recordMode: mode_t = 0o644

  /// The record file for `interface`.
  public func recordPath(interface: String) -> String { path + "/" + interface + ".json" }

  /// Creates the directory if needed.
  public func create() throws(SystemCallError) {
    if access(path, F_OK) == 0 { return }
    do {
      try check("create \(path)") { mkdir(path, Self.directoryMode) }
    } catch  where error.code == EEXIST {
      return
    }
  }

  /// The record for `interface`, `nil` when there is none or it is unreadable.
  public func record(interface: String) -> AttachmentRecord? {
    guard let data = FileManager.default.contents(atPath: recordPath(interface: interface)) else {
      return nil
    }
    return try? JSONDecoder().decode(AttachmentRecord.self, from: data)
  }

  /// Writes `record` atomically: a temporary file beside it, written and
  /// flushed, then renamed into place, so that a reader (or a process
  /// killed half-way) sees the old record or the new one, never a mix.
  public func save(_ record: AttachmentRecord) throws(RecordError) {
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
      try write(data, to: recordPath(interface: record.interface))
    } catch {
      throw .file(error)
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

  /// Removes the record for `interface`; quiet when there is none.
  public func removeRecord(interface: String) {
    unlink(recordPath(interface: interface))
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
