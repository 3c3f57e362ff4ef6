import BPF
import Deployment
import Foundation
import Glibc
import Kernel

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
  /// The second veth pair, the target a redirecting sample's DEVMAP is
  /// filled with (``fillRedirectMaps()``).
  public var redirectTarget: VethPair
  /// Records and the generator's pid and count files.
  public var state: StateDirectory
  /// The program the demo attaches.
  public var programName: String

  /// The demo's standard names: namespace `xdpbatch-demo`, veth
  /// `xdpbatch0` (host) and `xdpbatch1` (peer), 198.18.0.1/30 and .2/30,
  /// and the redirect target `xdpbatch2` (host) and `xdpbatch3` (peer),
  /// 198.18.0.5/30 and .6/30. A demo given names of its own (tests run
  /// such demos beside the standard one) names its redirect target after
  /// them, `INTERFACE-r` and `PEER-r`: it never makes, nor removes, the
  /// standard demo's `xdpbatch2`.
  public init(
    state: StateDirectory = StateDirectory(), namespace: String = "xdpbatch-demo",
    interface: String = "xdpbatch0", peer: String = "xdpbatch1"
  ) {
    let namespace = NetworkNamespace(name: namespace)
    self.namespace = namespace
    self.veth = VethPair(name: interface, peer: peer, namespace: namespace)
    let standard = interface == "xdpbatch0" && peer == "xdpbatch1"
    self.redirectTarget = VethPair(
      name: standard ? "xdpbatch2" : interface + "-r", peer: standard ? "xdpbatch3" : peer + "-r",
      namespace: namespace, address: "198.18.0.5/30", peerAddress: "198.18.0.6/30")
    self.state = state
    self.programName = "xdp_classify_prog"
  }

  /// The bundled classifier's object file (all five verdicts occur).
  public static let classifierObject = "xdp_classify.o"

  /// The generator's pid file.
  public var generatorPIDPath: String { state.path + "/\(namespace.name)-generator.pid" }
  /// The file where the generator writes how many frames it has sent.
  public var generatorCountPath: String { state.path + "/\(namespace.name)-generator.sent" }

  /// Makes what is missing: namespace, veth pair, attachment of `object`'s
  /// classifier (`mode`), and the generator, started as
  /// `generatorCommand` (an executable and its arguments) in a session of
  /// its own. `generatorCommand` `nil` starts no generator.
  ///
  /// A software datapath on the demo's interface that runs another
  /// program, object or mode is stopped first (its process, sockets, TAP
  /// device and pins), so that the demo's change does not leave it
  /// running beside the kernel; the same program keeps running where it is.
  public func up(object: String, mode: AttachMode = .native, generatorCommand: [String]?)
    throws(DemoError) -> DemoStatus
  {
    let deployment = ProgramDeployment(state: state)
    state.removeAbandonedTemporaries()
    let objectPath = URL(fileURLWithPath: object).standardizedFileURL.path
    if let record = state.record(interface: veth.name), record.isSoftware,
      record.program != programName || record.object != objectPath || record.attachMode != mode
    {
      do {
        try deployment.detach(interface: veth.name)
      } catch {
        throw .deployment(error)
      }
    }
    let wasUp = namespace.exists || NetworkInterface.index(of: veth.name) != nil
    do {
      if !namespace.exists { _ = try NetworkNamespace.create(namespace.name) }
      if NetworkInterface.index(of: veth.name) == nil { try veth.create() }
      if NetworkInterface.index(of: redirectTarget.name) == nil {
        try redirectTarget.create()
        try letRedirectTargetReceive()
      }
      let source = ProgramSource(objectPath: object, programName: programName)
      // Already up: a different program, object or mode is applied (the
      // program replaced atomically; a different mode is refused with
      // the reason), the same one left running.
      let record = (try? deployment.current(interface: veth.name))?.1
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
    // The program through both datapaths first: a software datapath the
    // console's `b` started (its process, TAP device, sockets), or the
    // pins and log one left after moving back to the kernel.
    if state.record(interface: veth.name) != nil,
      (try? ProgramDeployment(state: state).detach(interface: veth.name)) != nil
    {
      removed.append("program on \(veth.name), its datapath and pins")
    }
    if let pid = generatorPID() {
      stopGenerator(pid)
      removed.append("generator process \(pid)")
    }
    unlink(generatorPIDPath)
    unlink(generatorCountPath)
    state.removeAbandonedTemporaries()
    if NetworkInterface.index(of: veth.name) != nil {
      if (try? XDPAttachment.open(interface: veth.name)) != nil {
        try? ProgramDeployment(state: state).detach(interface: veth.name)
        removed.append("program on \(veth.name) and its pins")
      }
      veth.delete()
      removed.append("veth pair \(veth.name)/\(veth.peer)")
    }
    if NetworkInterface.index(of: redirectTarget.name) != nil {
      redirectTarget.delete()
      removed.append("veth pair \(redirectTarget.name)/\(redirectTarget.peer)")
    }
    let pins = PinDirectory(interface: veth.name)
    if PinDirectory.exists(pins.path) {
      pins.removeAttachmentPins()
      removed.append("pins \(pins.path)")
    }
    state.removeRecord(interface: veth.name)
    if namespace.exists {
      namespace.delete()
      removed.append("namespace \(namespace.name)")
    }
    for interface in ProgramDeployment(state: state).removeVanishedInterfaces() {
      removed.append("what xdpbatch kept for \(interface), which no longer exists")
    }
    rmdir(state.path)  // only when nothing else is kept there
    return removed
  }

  /// What of the demo exists now.
  public func status() -> DemoStatus {
    let isUp = namespace.exists && NetworkInterface.index(of: veth.name) != nil
    let record = (try? ProgramDeployment(state: state).current(interface: veth.name))?.1
    let sent = (try? String(contentsOfFile: generatorCountPath, encoding: .utf8)).flatMap {
      UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    return DemoStatus(
      namespace: isUp ? namespace.name : nil, interface: isUp ? veth.name : nil,
      peer: isUp ? veth.peer : nil, program: record?.program, form: record?.form,
      datapath: record.map { $0.isSoftware && $0.process?.isAlive == true ? .software : .kernel },
      generator: stateReadable
        ? .init(running: generatorPID() != nil, sent: sent ?? 0) : .init(running: nil, sent: nil))
  }

  /// Whether this process can read the state directory (root's, 0700):
  /// without, the generator's pid and count are unknown, not absent.
  var stateReadable: Bool {
    access(state.path, F_OK) != 0 || access(state.path, R_OK | X_OK) == 0
  }
}
