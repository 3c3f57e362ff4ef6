import Foundation
import Glibc

/// Which form of a program is attached: as compiled, or its batch form.
public enum ProgramForm: String, Codable, Sendable, CaseIterable {
  /// The program as compiled, run once per packet.
  case perPacket = "per-packet"
  /// The rewriter's batch form, run once per batch of buffers.
  case batch
}

/// What xdpbatch attached to an interface, remembered between invocations
/// so that `swap`, `stats` and `demo status` can say what runs there.
///
/// Kept as a small JSON file under ``StateDirectory`` (the bpf filesystem
/// beside the pins holds only BPF objects and directories, no files). The
/// program id tells whether the record still describes the attachment:
/// if someone replaced the program, the record is stale.
public struct AttachmentRecord: Hashable, Codable, Sendable {
  /// The interface.
  public var interface: String
  /// The object file the program came from (absolute path).
  public var object: String
  /// The program's name in the object.
  public var program: String
  /// Per-packet or batch.
  public var form: ProgramForm
  /// Native or generic XDP.
  public var attachMode: XDPMode
  /// For the batch form: the trampoline's stack strategy.
  public var strategy: String?
  /// For the batch form: the loop bound.
  public var bound: String?
  /// The kernel id of the program attached when the record was written.
  public var programID: UInt32

  /// Describes an attachment.
  public init(
    interface: String, object: String, program: String, form: ProgramForm, attachMode: XDPMode,
    strategy: String? = nil, bound: String? = nil, programID: UInt32
  ) {
    self.interface = interface
    self.object = object
    self.program = program
    self.form = form
    self.attachMode = attachMode
    self.strategy = strategy
    self.bound = bound
    self.programID = programID
  }

  enum CodingKeys: String, CodingKey {
    case interface, object, program, strategy, bound
    case form = "mode"
    case attachMode = "attach_mode"
    case programID = "program_id"
  }
}

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

  /// The record file for `interface`.
  public func recordPath(interface: String) -> String { path + "/" + interface + ".json" }

  /// Creates the directory if needed.
  public func create() throws(SystemCallError) {
    if access(path, F_OK) == 0 { return }
    try check("create \(path)") { mkdir(path, 0o755) }
  }

  /// The record for `interface`, `nil` when there is none or it is unreadable.
  public func record(interface: String) -> AttachmentRecord? {
    guard let data = FileManager.default.contents(atPath: recordPath(interface: interface)) else {
      return nil
    }
    return try? JSONDecoder().decode(AttachmentRecord.self, from: data)
  }

  /// Writes `record` (atomically: a temporary file renamed into place).
  public func save(_ record: AttachmentRecord) throws(SystemCallError) {
    try create()
    let path = recordPath(interface: record.interface)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(record) else {
      throw SystemCallError("encode the attachment record for \(record.interface)", code: EINVAL)
    }
    do {
      try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw SystemCallError("write \(path): \(error.localizedDescription)", code: EIO)
    }
  }

  /// Removes the record for `interface`; quiet when there is none.
  public func removeRecord(interface: String) {
    unlink(recordPath(interface: interface))
  }
}
