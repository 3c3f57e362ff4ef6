import BPF
import Engine
import Foundation
import Kernel
import Rewriter

/// What xdpbatch attached to an interface, remembered between invocations
/// so that `swap`, `stats` and `demo status` can say what runs there.
///
/// Kept as a small JSON file under ``StateDirectory`` (the bpf filesystem
/// beside the pins holds only BPF objects and directories, no files). The
/// program id tells whether the record still describes the attachment:
/// if someone replaced the program, the record is stale.
///
/// Keys: `interface`, `object`, `program`, `form`, `attach_mode`,
/// `strategy`, `bound`, `program_id`, and `datapath`, `process`,
/// `moved_from_kernel`, `engine`, `group_actions` (docs/DESIGN.md, "State directory"). Records
/// written before `form` had its own key stored the form under `mode`;
/// they are still read.
public struct AttachmentRecord: Hashable, Codable, Sendable {
  /// The interface.
  public var interface: String
  /// The object file the program came from (absolute path).
  public var object: String
  /// The program's name in the object.
  public var program: String
  /// Per-packet or batch.
  public var form: Form
  /// Native or generic XDP, as the kernel reported it when the record was
  /// written (``ProgramDeployment/current(interface:)`` asks the kernel again).
  public var attachMode: AttachMode
  /// The batch form's stack strategy (what the next swap rewrites with).
  public var strategy: BatchStrategy
  /// The batch form's loop bound.
  public var bound: BatchBound
  /// The kernel id of the program attached when the record was written.
  public var programID: UInt32
  /// Where the program runs: the kernel (also when absent) or the
  /// software datapath (the AF_XDP datapath process, docs/DESIGN.md,
  /// "The software datapath").
  public var datapath: DatapathKind?
  /// For the software datapath: its process.
  public var process: DatapathProcessRecord?
  /// Whether `swap` moved the interface from the kernel to the software
  /// datapath (the next swap to per-packet moves it back).
  public var movedFromKernel: Bool?
  /// For the software datapath: the engine it runs the program in (`jit`
  /// or `interpreter`; absent: the platform's default).
  public var engine: EngineKind?
  /// For the software datapath: whether it acts on a batch's verdicts
  /// grouped by action (absent: in frame order).
  public var groupActions: Bool?
  /// The network namespace the interface was in when the record was
  /// made (``NetworkNamespace/currentIdentifier``; absent in records of
  /// earlier versions). `/run/xdpbatch` is shared by every namespace of a
  /// mount namespace, interface names are not: a command in another
  /// namespace (`ip netns exec`) cannot see this interface, and leaves the
  /// record alone (``ProgramDeployment/removeVanishedInterfaces()``).
  public var networkNamespace: UInt64?

  /// Whether the software datapath runs the program.
  public var isSoftware: Bool { datapath == .software }

  /// Whether this records a software datapath whose process is gone
  /// (killed, crashed, stopped by hand): the kernel fallback then runs
  /// the program per packet, until the next `swap` or `attach` starts the
  /// datapath again or `detach` removes everything.
  public var datapathIsDead: Bool { isSoftware && process?.isAlive != true }

  /// Where the program runs now: the kernel when the record does not say,
  /// and when a software datapath died (its kernel fallback runs it).
  public var runningDatapath: DatapathKind { isSoftware && !datapathIsDead ? .software : .kernel }

  /// The form the program runs in now: per packet when a software
  /// datapath died (the kernel fallback is the per-packet program).
  public var runningForm: Form { datapathIsDead ? .perPacket : form }

  /// How readers name where the program runs: `kernel`, `software`, or
  /// `kernel fallback (software datapath dead)`.
  public var runningPlace: String {
    datapathIsDead
      ? "kernel fallback, software datapath dead" : "\(runningDatapath.rawValue) datapath"
  }

  /// Describes an attachment; strategy and bound default to the
  /// rewriter's, the network namespace to the calling thread's (the one
  /// the interface is in: commands act only on interfaces they can see).
  public init(
    interface: String, object: String, program: String, form: Form, attachMode: AttachMode,
    strategy: BatchStrategy = .default, bound: BatchBound = .default, programID: UInt32,
    networkNamespace: UInt64? = NetworkNamespace.currentIdentifier
  ) {
    self.networkNamespace = networkNamespace
    self.interface = interface
    self.object = object
    self.program = program
    self.form = form
    self.attachMode = attachMode
    self.strategy = strategy
    self.bound = bound
    self.programID = programID
  }

  /// Where records before `form` had its own key kept the form.
  private enum LegacyKeys: String, CodingKey { case mode }

  /// Reads a record, old (`"mode": "per-packet"`) or new (`"form"`); a
  /// missing strategy or bound is the rewriter's default.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    interface = try container.decode(String.self, forKey: .interface)
    object = try container.decode(String.self, forKey: .object)
    program = try container.decode(String.self, forKey: .program)
    form =
      try container.decodeIfPresent(Form.self, forKey: .form)
      ?? decoder.container(keyedBy: LegacyKeys.self).decode(Form.self, forKey: .mode)
    attachMode = try container.decode(AttachMode.self, forKey: .attachMode)
    strategy = try container.decodeIfPresent(BatchStrategy.self, forKey: .strategy) ?? .default
    bound = try container.decodeIfPresent(BatchBound.self, forKey: .bound) ?? .default
    programID = try container.decode(UInt32.self, forKey: .programID)
    datapath = try container.decodeIfPresent(DatapathKind.self, forKey: .datapath)
    process = try container.decodeIfPresent(DatapathProcessRecord.self, forKey: .process)
    movedFromKernel = try container.decodeIfPresent(Bool.self, forKey: .movedFromKernel)
    engine = try container.decodeIfPresent(EngineKind.self, forKey: .engine)
    groupActions = try container.decodeIfPresent(Bool.self, forKey: .groupActions)
    networkNamespace = try container.decodeIfPresent(UInt64.self, forKey: .networkNamespace)
  }
}

/// Where an attached program runs.
public enum DatapathKind: String, Codable, Sendable, CaseIterable {
  /// The kernel calls it per packet (through the pinned link).
  case kernel
  /// The software datapath process runs it in the engine (AF_XDP).
  case software
}

extension AttachmentRecord {
  /// The rewrite that makes this program's batch form (what `swap` uses).
  public var batchTrampoline: BatchTrampoline {
    BatchTrampoline(strategy: strategy, bound: bound)
  }

  /// The program as the record names it.
  public var source: ProgramSource {
    ProgramSource(objectPath: object, programName: program)
  }
}
