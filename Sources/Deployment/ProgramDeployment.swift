import BPF
import Datapath
import Engine
import Foundation
import Glibc
import Kernel

/// Attach, swap and detach of an interface's program on either datapath,
/// behind one facade: the kernel's (a pinned BPF link, ``KernelDeployment``)
/// and the software datapath's (its process, pins and control socket),
/// with the ``AttachmentRecord`` that says which runs, kept in step.
///
/// A software datapath found dead (its pid gone, or another process's) is
/// recovered: swap and attach start it again, detach removes what it left.
///
/// Each operation holds the interface's ``InterfaceLock`` from its first
/// step to its last (stopping an old process, the kernel's change,
/// starting the new process, writing the record): two commands on one
/// interface never interleave. The kernel's steps inside take the same
/// lock again, nested. Every operation either completes or leaves the
/// interface, the pins and the record as they were.
public struct ProgramDeployment: Sendable {
  /// The kernel side.
  let kernel: KernelDeployment
  /// The `xdpbatch` executable the datapath process runs.
  public var executable: String

  /// Where records are kept.
  public var state: StateDirectory { kernel.state }
  /// Where the kernel's BTF is read for the batch-capability probe.
  public var btfPath: String { kernel.btfPath }

  /// Uses `state` for records, locks and control sockets, probes the
  /// kernel's BTF at `btfPath`, reads the pinned link's information with
  /// `readLinkInfo` (a test's reader may fail with a chosen errno) and
  /// runs `executable` for the software datapath.
  public init(
    state: StateDirectory = StateDirectory(), btfPath: String = BatchKernelSupport.vmlinuxPath,
    readLinkInfo: @escaping XDPLink.InfoReader = XDPLink.kernelInfo,
    executable: String = Processes.currentExecutable
  ) {
    kernel = KernelDeployment(state: state, btfPath: btfPath, readLinkInfo: readLinkInfo)
    self.executable = executable
  }

  private var launcher: DatapathLauncher {
    DatapathLauncher(executable: executable, state: state)
  }

  /// Attaches `source` to `interface` on `datapath` in `form`. The
  /// software datapath starts from the kernel attachment (which checks the
  /// program, the mode and foreign programs), then takes the interface's
  /// frames; if it cannot start, the attachment is undone (or, replacing
  /// one, left running the program per packet in the kernel). `engine`
  /// and `groupActions` are the software datapath's, recorded with it.
  @discardableResult
  public func attach(
    _ source: ProgramSource, to interface: String, mode: AttachMode,
    datapath: DatapathKind = .kernel, form: Form = .perPacket, force: Bool = false,
    engine: EngineKind = .platformDefault, groupActions: Bool = false
  ) throws(DeploymentError) -> AttachmentRecord {
    try changing(interface) { () throws(DeploymentError) in
      try attachHoldingLock(
        source, to: interface, mode: mode, datapath: datapath, form: form, force: force,
        engine: engine, groupActions: groupActions)
    }
  }

  /// Runs `body` holding `interface`'s lock.
  private func changing<T>(_ interface: String, _ body: () throws(DeploymentError) -> T)
    throws(DeploymentError) -> T
  {
    try kernel.changing(interface, body)
  }

  private func attachHoldingLock(
    _ source: ProgramSource, to interface: String, mode: AttachMode, datapath: DatapathKind,
    form: Form, force: Bool, engine: EngineKind, groupActions: Bool
  ) throws(DeploymentError) -> AttachmentRecord {
    let previous = state.record(interface: interface)
    if let previous, previous.isSoftware, let process = previous.process {
      launcher.stop(process, interface: interface)
      SoftwareDatapath.removeLeftovers(interface: interface, state: state, keepCounters: true)
    }
    if datapath == .kernel {
      return try kernel.attach(source, to: interface, mode: mode, form: form, force: force)
    }
    var options = try kernel.attach(
      source, to: interface, mode: mode, form: .perPacket, force: force)
    options.engine = engine
    options.groupActions = groupActions
    do {
      return try startSoftware(options, form: form, movedFromKernel: false)
    } catch {
      if previous == nil {
        SoftwareDatapath.removeLeftovers(interface: interface, state: state)
        try? kernel.detach(interface: interface)
      }
      throw error
    }
  }

  /// Starts the datapath process for `record`'s program in `form` and
  /// records it.
  private func startSoftware(_ record: AttachmentRecord, form: Form, movedFromKernel: Bool)
    throws(DeploymentError) -> AttachmentRecord
  {
    let process: DatapathProcessRecord
    do {
      process = try launcher.launch(record, form: form)
    } catch {
      throw .datapath(error)
    }
    var updated = record
    updated.form = form
    updated.datapath = .software
    updated.process = process
    updated.movedFromKernel = movedFromKernel
    do throws(DeploymentError) {
      let (attachment, _) = try kernel.current(interface: record.interface)
      updated.programID = try kernelCall { () throws(SystemCallError) in
        try attachment.program().info().id
      }
      do {
        try state.save(updated)
      } catch {
        throw .record(error)
      }
    } catch {
      launcher.stop(process, interface: record.interface)
      throw error
    }
    return updated
  }

  /// The record of `interface`, whatever program id it names. Without
  /// one, the error says whether nothing is attached (or no such
  /// interface) or another tool's program is.
  private func record(_ interface: String) throws(DeploymentError) -> AttachmentRecord {
    guard let record = state.record(interface: interface) else {
      _ = try kernel.current(interface: interface)
      throw .unknownProgram(interface: interface)
    }
    return record
  }

  /// Toggles the form of `interface`'s program. In the kernel, where the
  /// kernel cannot run batch programs, the interface moves to the software
  /// datapath in batch form; the next swap to per-packet moves it back. A
  /// dead datapath process is started again first.
  @discardableResult
  public func swap(interface: String) throws(DeploymentError) -> AttachmentRecord {
    try changing(interface) { () throws(DeploymentError) in
      try swapHoldingLock(interface: interface)
    }
  }

  private func swapHoldingLock(interface: String) throws(DeploymentError) -> AttachmentRecord {
    var current = try record(interface)
    guard current.isSoftware else {
      do {
        return try kernel.swap(interface: interface)
      } catch .batchUnsupported {
        // No batch XDP in this kernel: run the batch form in the software datapath.
        let (_, checked) = try kernel.current(interface: interface)
        guard let checked else { throw .unknownProgram(interface: interface) }
        return try startSoftware(checked, form: .batch, movedFromKernel: true)
      }
    }
    if current.process?.isAlive != true {
      SoftwareDatapath.removeLeftovers(interface: interface, state: state, keepCounters: true)
      current = try startSoftware(
        current, form: current.form, movedFromKernel: current.movedFromKernel ?? false)
    }
    let next: Form = current.form == .batch ? .perPacket : .batch
    if next == .perPacket, current.movedFromKernel == true {
      // The kernel program first, taking over the maps the fallback
      // holds (they vanish with the fallback's pin), then the process.
      let record = try kernel.attach(
        current.source, to: interface, mode: current.attachMode, form: .perPacket,
        continuingMaps: true)
      if let process = current.process { launcher.stop(process, interface: interface) }
      SoftwareDatapath.removeLeftovers(interface: interface, state: state, keepCounters: true)
      return record
    }
    let answer: String
    do {
      answer = try DatapathClient(interface: interface, state: state).request(
        "form \(next.rawValue)")
    } catch {
      throw .datapath(error)
    }
    guard answer.contains("\"ok\":true") else {
      throw .datapath(.batchUnavailable(Self.errorText(answer)))
    }
    current.form = next
    do {
      try state.save(current)
    } catch {
      throw .record(error)
    }
    return current
  }

  /// Records `strategy` as the stack strategy of the batch form of the
  /// program on `interface` (``KernelDeployment/setStrategy(_:interface:)``).
  @discardableResult
  public func setStrategy(_ strategy: BatchStrategy, interface: String)
    throws(DeploymentError) -> AttachmentRecord
  {
    try kernel.setStrategy(strategy, interface: interface)
  }

  /// Moves the batch form of `interface`'s program to the next stack
  /// strategy (shift, reserve, shift, ...).
  @discardableResult
  public func cycleStrategy(interface: String) throws(DeploymentError) -> AttachmentRecord {
    try kernel.cycleStrategy(interface: interface)
  }

  /// Stops the datapath process (if any), then removes every socket, link,
  /// pin, TAP device, log and record of `interface`. With no program
  /// attached it still removes what an interrupted attach may have left
  /// and reports ``AttachError/notAttached(interface:)``.
  public func detach(interface: String) throws(DeploymentError) {
    try changing(interface) { () throws(DeploymentError) in
      if let current = state.record(interface: interface), current.isSoftware,
        let process = current.process
      {
        launcher.stop(process, interface: interface)
      }
      // The log stays after a datapath moved back to the kernel, until detach.
      unlink(launcher.logPath(interface))
      SoftwareDatapath.removeLeftovers(interface: interface, state: state)
      try kernel.detach(interface: interface)
    }
  }

  /// The attachment on `interface` and its record (`nil` when no record
  /// describes the program the kernel runs); see
  /// ``KernelDeployment/current(interface:)``.
  public func current(interface: String) throws(DeploymentError) -> (
    XDPAttachment, AttachmentRecord?
  ) {
    try kernel.current(interface: interface)
  }

  /// The running datapath's status, nil when `interface` has none running.
  public func status(interface: String) -> DatapathStatus? {
    guard let current = state.record(interface: interface), current.isSoftware,
      current.process?.isAlive == true
    else { return nil }
    return try? DatapathClient(interface: interface, state: state).status()
  }

  /// The programs on `interface` that xdpbatch did not attach.
  public func foreignPrograms(interface: String) throws(DeploymentError) -> [AttachedProgram] {
    try kernel.foreignPrograms(interface: interface)
  }

  /// Detaches the programs another tool attached to `interface` (every
  /// one, or only `programID`); see ``KernelDeployment/detachForeign(interface:programID:)``.
  @discardableResult
  public func detachForeign(interface: String, programID: UInt32? = nil)
    throws(DeploymentError) -> [AttachedProgram]
  {
    try kernel.detachForeign(interface: interface, programID: programID)
  }

  static func errorText(_ answer: String) -> String {
    guard let data = answer.data(using: .utf8),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let error = object["error"] as? String
    else { return answer }
    return error
  }
}

/// Runs a kernel call, reporting its failure (with the kernel's errno) as
/// ``DeploymentError/attach(_:)``.
func kernelCall<T>(_ call: () throws(SystemCallError) -> T) throws(DeploymentError) -> T {
  do {
    return try call()
  } catch {
    throw .attach(.kernel(error))
  }
}
