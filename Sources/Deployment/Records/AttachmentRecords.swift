import BPF
import Foundation
import Glibc
import Kernel

/// The attachment records in the state directory: `IFACE.json` says what
/// xdpbatch attached to an interface; `IFACE.json.next` is the record of
/// the change under way (written before the kernel changes, renamed over
/// the record after), so that a process killed in between leaves a record
/// for whichever program the kernel runs.
extension StateDirectory {
  /// The record file for `interface`.
  public func recordPath(interface: String) -> String { file(interface + ".json") }

  /// The pending record's file for `interface`.
  public func pendingRecordPath(interface: String) -> String {
    recordPath(interface: interface) + ".next"
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
    return try? JSONCoding.decoder().decode(AttachmentRecord.self, from: data)
  }

  /// Writes `record` as the pending record of its interface (atomically).
  func savePending(_ record: AttachmentRecord) throws(RecordError) {
    try save(record, to: pendingRecordPath(interface: record.interface))
  }

  /// Makes the pending record the record (one `rename(2)`).
  func promotePending(interface: String) throws(SystemCallError) {
    let pending = pendingRecordPath(interface: interface)
    try SystemCall.check("rename \(pending)") { rename(pending, recordPath(interface: interface)) }
  }

  /// Removes the pending record; quiet when there is none.
  func removePending(interface: String) {
    unlink(pendingRecordPath(interface: interface))
  }

  /// Writes `record` atomically (``StateDirectory/write(_:to:)``).
  public func save(_ record: AttachmentRecord) throws(RecordError) {
    try save(record, to: recordPath(interface: record.interface))
  }

  private func save(_ record: AttachmentRecord, to file: String) throws(RecordError) {
    let data: Data
    do {
      data = try JSONCoding.encoder([.sortedKeys, .withoutEscapingSlashes]).encode(record)
    } catch {
      throw .unencodable(interface: record.interface, reason: "\(error)")
    }
    do throws(SystemCallError) {
      try create()
      removeAbandonedTemporaries(of: recordPath(interface: record.interface))
      try write(data, to: file)
    } catch {
      throw .file(error)
    }
  }

  /// Removes the record (and any pending one) for `interface`; quiet
  /// when there is none.
  public func removeRecord(interface: String) {
    unlink(recordPath(interface: interface))
    removePending(interface: interface)
    removeAbandonedTemporaries(of: recordPath(interface: interface))
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
