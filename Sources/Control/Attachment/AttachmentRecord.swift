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
  /// Where the program runs: `kernel` (also when absent) or `software`
  /// (the AF_XDP datapath process, docs/DESIGN-datapath.md).
  public var datapath: String?
  /// For the software datapath: its process.
  public var process: DatapathProcessRecord?
  /// Whether `swap` moved the interface from the kernel to the software
  /// datapath (the next swap to per-packet moves it back).
  public var movedFromKernel: Bool?

  /// Whether the software datapath runs the program.
  public var isSoftware: Bool { datapath == "software" }

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
    case datapath, process
    case movedFromKernel = "moved_from_kernel"
  }
}

/// The software datapath's process, as its attachment record keeps it.
public struct DatapathProcessRecord: Hashable, Codable, Sendable {
  /// The process id.
  public var pid: Int32
  /// Its start time in clock ticks after boot (`/proc/PID/stat` field
  /// 22): a live process with this pid but another start time is not it.
  public var startTicks: UInt64
  /// When it started (seconds since 1970).
  public var started: Double
  /// Where its standard output and error go.
  public var log: String

  /// Describes a process.
  public init(pid: Int32, startTicks: UInt64, started: Double, log: String) {
    self.pid = pid
    self.startTicks = startTicks
    self.started = started
    self.log = log
  }

  /// The start ticks of a live (not zombie) process `pid`, nil when there is none.
  public static func startTicks(of pid: Int32) -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state is field 3, start time field 22.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
    return UInt64(fields[19])
  }

  /// Whether the process is still the datapath that was recorded.
  public var isAlive: Bool { Self.startTicks(of: pid) == startTicks }

  enum CodingKeys: String, CodingKey {
    case pid, started, log
    case startTicks = "start_ticks"
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
