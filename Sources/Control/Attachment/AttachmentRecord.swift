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
