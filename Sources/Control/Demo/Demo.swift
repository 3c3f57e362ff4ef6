import BPF
import Foundation
import Glibc

/// `xdpbatch demo`: a namespace with a veth pair, the classifier sample
/// attached to the host end, and a traffic generator process sending the
/// ``TrafficMix`` from the far end, so that all five verdicts occur.
///
/// `up` and `down` are idempotent: `up` makes only what is missing, `down`
/// removes whatever of the demo exists (generator process, attachment,
/// pins, record, veth pair, namespace) and is quiet when nothing does.
public struct Demo: Sendable {
  /// The namespace holding the peer.
  public var namespace: NetworkNamespace
  /// The veth pair: ``VethPair/name`` carries the program.
  public var veth: VethPair
  /// Records and the generator's pid and count files.
  public var state: StateDirectory
  /// The program the demo attaches.
  public var programName: String

  /// The demo's standard names: namespace `xdpbatch-demo`, veth
  /// `xdpbatch0` (host) and `xdpbatch1` (peer), 198.18.0.1/30 and .2/30.
  public init(
    state: StateDirectory = StateDirectory(), namespace: String = "xdpbatch-demo",
    interface: String = "xdpbatch0", peer: String = "xdpbatch1"
  ) {
    let namespace = NetworkNamespace(name: namespace)
    self.namespace = namespace
    self.veth = VethPair(name: interface, peer: peer, namespace: namespace)
    self.state = state
    self.programName = "xdp_classify_prog"
  }

  /// The generator's pid file.
  public var generatorPIDPath: String { state.path + "/\(namespace.name)-generator.pid" }
  /// The file where the generator writes how many frames it has sent.
  public var generatorCountPath: String { state.path + "/\(namespace.name)-generator.sent" }

  /// Makes what is missing: namespace, veth pair, attachment of `object`'s
  /// classifier (`mode`), and the generator, started as
  /// `generatorCommand` (an executable and its arguments) in a session of
  /// its own. `generatorCommand` `nil` starts no generator.
  public func up(object: String, mode: AttachMode = .native, generatorCommand: [String]?)
    throws(DemoError) -> DemoStatus
  {
    let deployment = ProgramDeployment(state: state)
    let wasUp = namespace.exists || if_nametoindex(veth.name) != 0
    do {
      if !namespace.exists { _ = try NetworkNamespace.create(namespace.name) }
      if if_nametoindex(veth.name) == 0 { try veth.create() }
      if if_nametoindex(redirectTarget.name) == 0 { try redirectTarget.create() }
      let source = ProgramSource(objectPath: object, programName: programName)
      // Already up: a different program, object or mode is applied (the
      // program replaced atomically; a different mode is refused with
      // the reason), the same one left running.
      let record = (try? deployment.current(interface: veth.name))?.1
      let objectPath = URL(fileURLWithPath: object).standardizedFileURL.path
      if record?.program != programName || record?.object != objectPath
        || record?.attachMode != mode
      {
        do {
          try deployment.attach(source, to: veth.name, mode: mode)
        } catch {
          guard case .attach(.modeMismatch(_, let attached, _)) = error else { throw error }
          throw DemoError.modeChange(running: attached, requested: mode)
        }
      }
      try fillRedirectMaps()
      if let generatorCommand, generatorPID() == nil {
        try startGenerator(generatorCommand)
      }
    } catch {
      // A first `up` that fails takes down what it made.
      if !wasUp { down() }
      switch error {
      case let error as PlumbingError: throw .plumbing(error)
      case let error as DeploymentError: throw .deployment(error)
      case let error as DemoError: throw error
      case let error as SystemCallError: throw .deployment(.attach(.kernel(error)))
      default: throw .generator("\(error)")
      }
    }
    return status()
  }

  /// Removes every part of the demo that exists; returns what it removed.
  @discardableResult
  public func down() -> [String] {
    var removed: [String] = []
    if let pid = generatorPID() {
      stopGenerator(pid)
      removed.append("generator process \(pid)")
    }
    unlink(generatorPIDPath)
    unlink(generatorCountPath)
    if if_nametoindex(veth.name) != 0 {
      if (try? XDPAttachment.open(interface: veth.name)) != nil {
        try? ProgramDeployment(state: state).detach(interface: veth.name)
        removed.append("program on \(veth.name) and its pins")
      }
      veth.delete()
      removed.append("veth pair \(veth.name)/\(veth.peer)")
    }
    if if_nametoindex(redirectTarget.name) != 0 {
      redirectTarget.delete()
      removed.append("veth pair \(redirectTarget.name)/\(redirectTarget.peer)")
    }
    let pins = PinDirectory(interface: veth.name)
    if PinDirectory.exists(pins.path) {
      unlink(pins.linkPath)
      unlink(pins.countersPath)
      pins.removeDirectories()
      removed.append("pins \(pins.path)")
    }
    state.removeRecord(interface: veth.name)
    if namespace.exists {
      namespace.delete()
      removed.append("namespace \(namespace.name)")
    }
    rmdir(state.path)  // only when nothing else is kept there
    return removed
  }

  /// What of the demo exists now.
  public func status() -> DemoStatus {
    let isUp = namespace.exists && if_nametoindex(veth.name) != 0
    let record = (try? ProgramDeployment(state: state).current(interface: veth.name))?.1
    let sent = (try? String(contentsOfFile: generatorCountPath, encoding: .utf8)).flatMap {
      UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    return DemoStatus(
      namespace: isUp ? namespace.name : nil, interface: isUp ? veth.name : nil,
      peer: isUp ? veth.peer : nil, program: record?.program, form: record?.form,
      datapath: record.map { $0.isSoftware && $0.process?.isAlive == true ? "software" : "kernel" },
      generator: .init(running: generatorPID() != nil, sent: sent ?? 0))
  }

  /// The generator's pid, if the pid file names a live generator process.
  public func generatorPID() -> pid_t? {
    guard
      let text = try? String(contentsOfFile: generatorPIDPath, encoding: .utf8),
      let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
    else { return nil }
    // Only a process that is still our generator: a recycled pid is not.
    guard let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
      String(decoding: command, as: UTF8.self).contains("generate")
    else { return nil }
    return pid
  }

  private func startGenerator(_ command: [String]) throws(DemoError) {
    guard let executable = command.first else { throw .generator("no generator command") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = Array(command.dropFirst())
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do {
      try process.run()
    } catch {
      throw .generator("cannot start \(executable): \(error.localizedDescription)")
    }
    // The generator writes its own pid file once it sends; wait for it.
    let deadline = Date().addingTimeInterval(5)
    while generatorPID() == nil && process.isRunning && Date() < deadline { usleep(20_000) }
    guard generatorPID() != nil else {
      if process.isRunning { kill(process.processIdentifier, SIGTERM) }
      throw .generator(
        "the generator process did not start (try `\(command.joined(separator: " "))`)")
    }
  }

  /// Asks the generator to stop (SIGTERM), then insists (SIGKILL).
  private func stopGenerator(_ pid: pid_t) {
    kill(pid, SIGTERM)
    let deadline = Date().addingTimeInterval(3)
    while kill(pid, 0) == 0 && Date() < deadline {
      usleep(20_000)
      // Reap it if it is our child.
      var status: Int32 = 0
      waitpid(pid, &status, WNOHANG)
    }
    if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
  }
}

/// `demo status`: what of the demo exists.
public struct DemoStatus: Hashable, Codable, Sendable {
  /// The namespace, when the demo is up.
  public var namespace: String?
  /// The host end of the veth pair, carrying the program.
  public var interface: String?
  /// The far end, where the generator sends from.
  public var peer: String?
  /// The program attached.
  public var program: String?
  /// Per-packet or batch (JSON: `form`, and `mode` as DESIGN.md fixed it).
  public var form: Form?
  /// Where the program runs: `kernel` or `software` (a dead software
  /// datapath's interface runs the kernel fallback: `kernel`).
  public var datapath: String?
  /// The traffic generator.
  public var generator: Generator

  enum CodingKeys: String, CodingKey {
    case namespace, interface, peer, program, form, generator, datapath
    case legacyForm = "mode"
  }

  /// Describes the demo's state.
  public init(
    namespace: String?, interface: String?, peer: String?, program: String?, form: Form?,
    datapath: String? = nil, generator: Generator
  ) {
    self.datapath = datapath
    self.namespace = namespace
    self.interface = interface
    self.peer = peer
    self.program = program
    self.form = form
    self.generator = generator
  }

  /// Reads `form`, or `mode` from an older xdpbatch.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    namespace = try container.decodeIfPresent(String.self, forKey: .namespace)
    interface = try container.decodeIfPresent(String.self, forKey: .interface)
    peer = try container.decodeIfPresent(String.self, forKey: .peer)
    program = try container.decodeIfPresent(String.self, forKey: .program)
    form =
      try container.decodeIfPresent(Form.self, forKey: .form)
      ?? container.decodeIfPresent(Form.self, forKey: .legacyForm)
    generator = try container.decode(Generator.self, forKey: .generator)
    datapath = try container.decodeIfPresent(String.self, forKey: .datapath)
  }

  /// Writes the form under both `form` and `mode`.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encodeIfPresent(namespace, forKey: .namespace)
    try container.encodeIfPresent(interface, forKey: .interface)
    try container.encodeIfPresent(peer, forKey: .peer)
    try container.encodeIfPresent(program, forKey: .program)
    try container.encodeIfPresent(form, forKey: .form)
    try container.encodeIfPresent(form, forKey: .legacyForm)
    try container.encode(generator, forKey: .generator)
    try container.encodeIfPresent(datapath, forKey: .datapath)
  }

  /// The generator's state.
  public struct Generator: Hashable, Codable, Sendable {
    /// Whether the process runs.
    public var running: Bool
    /// Frames it has sent (as last written by the process).
    public var sent: UInt64
  }

  /// Whether the demo is up.
  public var isUp: Bool { namespace != nil }
}

/// Why `demo up` failed.
public enum DemoError: Error, Sendable, CustomStringConvertible {
  /// Namespace or veth plumbing failed.
  case plumbing(PlumbingError)
  /// Attaching the classifier failed.
  case deployment(DeploymentError)
  /// The generator process did not start.
  case generator(String)
  /// The demo is up in another XDP mode than the one asked for.
  case modeChange(running: AttachMode, requested: AttachMode)

  /// A message naming the step.
  public var description: String {
    switch self {
    case .plumbing(let error): "demo: \(error)"
    case .deployment(let error): "demo: \(error)"
    case .generator(let reason): "demo: traffic generator: \(reason)"
    case .modeChange(let running, let requested):
      "demo: the demo runs its program in \(running.rawValue) mode; `xdpbatch demo down` first to bring it up in \(requested.rawValue) mode"
    }
  }
}
