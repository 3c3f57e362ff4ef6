import BPF
import Datapath
import Engine
import Foundation
import Glibc
import Inspection
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
  /// Told what recovery repaired before an operation (a killed
  /// capture's variant replaced by the original program), for the
  /// operator; the command line prints it.
  public var notices: @Sendable (String) -> Void = { _ in }

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

  var launcher: DatapathLauncher {
    DatapathLauncher(executable: executable, state: state)
  }

  /// Recognises and repairs what a killed command or a dead datapath left
  /// on `interface` (``DatapathRecovery``), holding its lock; first removes
  /// what is kept for interfaces that no longer exist
  /// (``removeVanishedInterfaces()``).
  @discardableResult
  func recover(_ interface: String) -> DatapathRecovery.Outcome {
    state.removeAbandonedTemporaries()
    removeVanishedInterfaces()
    if let repaired = FrameCapture.restoreLeftover(interface: interface, state: state) {
      notices(repaired)
    }
    return DatapathRecovery(state: state, launcher: launcher).recover(interface: interface)
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

  /// Runs `body` holding `interface`'s lock, after recovering what a
  /// killed command left there.
  private func changing<T>(_ interface: String, _ body: () throws(DeploymentError) -> T)
    throws(DeploymentError) -> T
  {
    try kernel.changing(interface) { () throws(DeploymentError) -> T in
      recover(interface)
      return try body()
    }
  }

  /// The order keeps the interface served at every step, whenever the
  /// command is killed: the kernel program replaces whatever runs first
  /// (atomically), then the old datapath process stops, then what it
  /// pinned goes (its fallback is no longer on the link).
  private func attachHoldingLock(
    _ source: ProgramSource, to interface: String, mode: AttachMode, datapath: DatapathKind,
    form: Form, force: Bool, engine: EngineKind, groupActions: Bool
  ) throws(DeploymentError) -> AttachmentRecord {
    let previous = state.record(interface: interface)
    var options = try kernel.attach(
      source, to: interface, mode: mode, form: datapath == .kernel ? form : .perPacket,
      force: force)
    if let previous, previous.isSoftware {
      if let process = previous.process { launcher.stop(process, interface: interface) }
      SoftwareDatapath.removeLeftovers(interface: interface, state: state, keepCounters: true)
    }
    guard datapath == .software else { return options }
    options.engine = engine
    options.groupActions = groupActions
    do {
      return try startSoftware(options, form: form, movedFromKernel: false)
    } catch {
      if previous == nil {
        try? kernel.detach(interface: interface)
        SoftwareDatapath.removeLeftovers(interface: interface, state: state)
        PinDirectory(interface: interface).removeDirectories()
      }
      throw error
    }
  }

  /// Starts the datapath process for `record`'s program in `form` and
  /// records it. The record of the change is written first as the pending
  /// record, so that a command killed while the process starts leaves
  /// what the next one needs to adopt it (``DatapathRecovery``).
  private func startSoftware(_ record: AttachmentRecord, form: Form, movedFromKernel: Bool)
    throws(DeploymentError) -> AttachmentRecord
  {
    var updated = record
    updated.form = form
    updated.datapath = .software
    updated.process = nil
    updated.programID = 0
    updated.movedFromKernel = movedFromKernel
    do {
      try state.savePending(updated)
    } catch {
      throw .record(error)
    }
    let process: DatapathProcessRecord
    do {
      process = try launcher.launch(record, form: form)
    } catch {
      state.removePending(interface: record.interface)
      throw .datapath(error)
    }
    updated.process = process
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
      state.removePending(interface: record.interface)
      throw error
    }
    state.removePending(interface: record.interface)
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
      let current = try record(interface)
      return try setFormHoldingLock(
        current.runningForm == .batch ? .perPacket : .batch, interface: interface)
    }
  }

  /// Sets the form of `interface`'s program (`datapath form`, `swap`):
  /// through the datapath's control socket on the software datapath, and
  /// in the record, so that every reader says what runs. A form it runs
  /// in already changes nothing.
  @discardableResult
  public func setForm(_ form: Form, interface: String) throws(DeploymentError)
    -> AttachmentRecord
  {
    try changing(interface) { () throws(DeploymentError) in
      try setFormHoldingLock(form, interface: interface)
    }
  }

  private func setFormHoldingLock(_ next: Form, interface: String) throws(DeploymentError)
    -> AttachmentRecord
  {
    var current = try record(interface)
    guard current.isSoftware else {
      guard next != current.form else { return current }
      do {
        return try kernel.swap(interface: interface)
      } catch .batchUnsupported {
        // No batch XDP in this kernel: run the batch form in the software datapath.
        let (_, checked) = try kernel.current(interface: interface)
        guard let checked else { throw .unknownProgram(interface: interface) }
        return try startSoftware(checked, form: .batch, movedFromKernel: true)
      }
    }
    if current.datapathIsDead {
      // Started again over the pins it left: its fallback keeps serving
      // the interface until the new process takes over.
      current = try startSoftware(
        current, form: current.form, movedFromKernel: current.movedFromKernel ?? false)
    }
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
    guard next != current.form else { return current }
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

  /// Removes every link, process, socket, pin, TAP device, log and
  /// record of `interface`, and returns when they are gone. The link
  /// goes first (the interface's frames then reach the stack with no XDP
  /// program), then the datapath process, then what it pinned: killed at
  /// any point, nothing is left black-holing frames, and the next detach
  /// finishes the work. With no program attached it still removes what
  /// an interrupted attach may have left and reports
  /// ``AttachError/notAttached(interface:)``.
  public func detach(interface: String) throws(DeploymentError) {
    try changing(interface) { () throws(DeploymentError) in
      try detachHoldingLock(interface: interface)
    }
  }

  func detachHoldingLock(interface: String) throws(DeploymentError) {
    let record = state.record(interface: interface)
    var failure: DeploymentError?
    do {
      try kernel.detach(interface: interface)
    } catch {
      // A link the kernel would not describe still runs: leave it all.
      guard case .attach(.notAttached) = error else { throw error }
      failure = error
    }
    DatapathRecovery(state: state, launcher: launcher).removeEverything(
      interface: interface, record: record)
    if let failure { throw failure }
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

  /// What readers (`stats`) do first: when no command holds `interface`'s
  /// lock, recognise and repair what a killed command left there
  /// (``DatapathRecovery``); when one does, or when the record belongs to
  /// another network namespace, nothing. Returns the record afterwards.
  @discardableResult
  public func recoverIfIdle(interface: String) -> AttachmentRecord? {
    guard kernel.otherNamespace(of: interface) == nil,
      let lock = try? InterfaceLock.acquire(interface: interface, state: state, waiting: 0)
    else { return state.record(interface: interface) }
    defer { withExtendedLifetime(lock) {} }
    return recover(interface).record
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
    try kernel.changing(interface) { () throws(DeploymentError) in
      try kernel.detachForeign(interface: interface, programID: programID)
    }
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
