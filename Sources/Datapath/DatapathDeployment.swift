import BPF
import Control
import Engine
import Foundation
import Glibc
import Rewriter

/// Where an attached program runs.
public enum DatapathKind: String, Codable, Sendable, CaseIterable {
  /// The kernel calls it per packet (through the pinned link).
  case kernel
  /// The software datapath process runs it in the engine (AF_XDP).
  case software
}

/// The command line's attach, swap and detach across both datapaths:
/// Control's ``ProgramDeployment`` for the kernel, plus the datapath
/// process, its pins and its part of the record for the software side.
///
/// A software datapath found dead (its pid gone, or another process's) is
/// recovered: swap and attach start it again, detach removes what it left.
///
/// Each operation holds the interface's ``InterfaceLock`` from its first
/// step to its last (stopping the old process, the kernel's change,
/// starting the new process, writing the record): two commands on one
/// interface never interleave. Control's steps inside take the same lock
/// again, nested.
public struct DatapathDeployment: Sendable {
  /// The kernel side.
  public var deployment: ProgramDeployment
  /// The `xdpbatch` executable the datapath process runs.
  public var executable: String

  /// This process's own executable (what `xdpbatch` is).
  public static var currentExecutable: String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
  }

  /// Uses `deployment`'s locations and runs `executable` for the datapath.
  public init(
    deployment: ProgramDeployment = ProgramDeployment(), executable: String = currentExecutable
  ) {
    self.deployment = deployment
    self.executable = executable
  }

  private var launcher: DatapathLauncher {
    DatapathLauncher(executable: executable, state: deployment.state)
  }

  /// Attaches `source` to `interface` on `datapath` in `form`. The
  /// software datapath starts from the kernel attachment (which checks the
  /// program, the mode and foreign programs), then takes the interface's
  /// frames; if it cannot start, the attachment is undone (or, replacing
  /// one, left running the program per packet in the kernel). `engine`
  /// and `groupActions` are the software datapath's, recorded with it.
  @discardableResult
  public func attach(
    _ source: ProgramSource, to interface: String, mode: AttachMode, datapath: DatapathKind,
    form: Form, force: Bool = false, engine: EngineKind = .platformDefault,
    groupActions: Bool = false
  ) throws(DatapathError) -> AttachmentRecord {
    try changing(interface) { () throws(DatapathError) in
      try attachHoldingLock(
        source, to: interface, mode: mode, datapath: datapath, form: form, force: force,
        engine: engine, groupActions: groupActions)
    }
  }

  /// Runs `body` holding `interface`'s lock.
  private func changing<T>(_ interface: String, _ body: () throws(DatapathError) -> T)
    throws(DatapathError) -> T
  {
    let lock: InterfaceLock
    do {
      lock = try InterfaceLock.acquire(interface: interface, state: deployment.state)
    } catch {
      throw .deployment(.lock(error))
    }
    defer { withExtendedLifetime(lock) {} }
    return try body()
  }

  private func attachHoldingLock(
    _ source: ProgramSource, to interface: String, mode: AttachMode, datapath: DatapathKind,
    form: Form, force: Bool, engine: EngineKind, groupActions: Bool
  ) throws(DatapathError) -> AttachmentRecord {
    let previous = deployment.state.record(interface: interface)
    if let previous, previous.isSoftware, let process = previous.process {
      launcher.stop(process, interface: interface)
      SoftwareDatapath.removeLeftovers(
        interface: interface, state: deployment.state, keepCounters: true)
    }
    if datapath == .kernel {
      do {
        return try deployment.attach(source, to: interface, mode: mode, form: form, force: force)
      } catch {
        throw .deployment(error)
      }
    }
    let kernel: AttachmentRecord
    do {
      kernel = try deployment.attach(
        source, to: interface, mode: mode, form: .perPacket, force: force)
    } catch {
      throw .deployment(error)
    }
    var options = kernel
    options.engine = engine.rawValue
    options.groupActions = groupActions
    do {
      return try startSoftware(options, form: form, movedFromKernel: false)
    } catch {
      if previous == nil {
        SoftwareDatapath.removeLeftovers(interface: interface, state: deployment.state)
        try? deployment.detach(interface: interface)
      }
      throw error
    }
  }

  /// Starts the datapath process for `record`'s program in `form` and
  /// records it.
  private func startSoftware(_ record: AttachmentRecord, form: Form, movedFromKernel: Bool)
    throws(DatapathError) -> AttachmentRecord
  {
    let process = try launcher.launch(
      DatapathConfiguration(
        interface: record.interface, source: record.source, form: form,
        strategy: record.strategy, bound: record.bound, attachMode: record.attachMode,
        state: deployment.state,
        engine: record.engine.flatMap(EngineKind.init(rawValue:)) ?? .platformDefault,
        groupActions: record.groupActions ?? false))
    var updated = record
    updated.form = form
    updated.datapath = DatapathKind.software.rawValue
    updated.process = process
    updated.movedFromKernel = movedFromKernel
    do {
      let (attachment, _) = try deployment.current(interface: record.interface)
      updated.programID = try attachment.program().info().id
      try deployment.state.save(updated)
    } catch let error as DeploymentError {
      launcher.stop(process, interface: record.interface)
      throw .deployment(error)
    } catch let error as RecordError {
      launcher.stop(process, interface: record.interface)
      throw .record(error)
    } catch {
      launcher.stop(process, interface: record.interface)
      throw .kernel(error as? SystemCallError ?? SystemCallError("\(error)", code: EIO))
    }
    return updated
  }

  /// The record of `interface`, whatever program id it names. Without
  /// one, the error says whether nothing is attached (or no such
  /// interface) or another tool's program is.
  private func record(_ interface: String) throws(DatapathError) -> AttachmentRecord {
    guard let record = deployment.state.record(interface: interface) else {
      do {
        _ = try deployment.current(interface: interface)
      } catch {
        throw .deployment(error)
      }
      throw .deployment(.unknownProgram(interface: interface))
    }
    return record
  }

  /// Toggles the form of `interface`'s program. In the kernel, where the
  /// kernel cannot run batch programs, the interface moves to the software
  /// datapath in batch form; the next swap to per-packet moves it back. A
  /// dead datapath process is started again first.
  @discardableResult
  public func swap(interface: String) throws(DatapathError) -> AttachmentRecord {
    try changing(interface) { () throws(DatapathError) in try swapHoldingLock(interface: interface)
    }
  }

  private func swapHoldingLock(interface: String) throws(DatapathError) -> AttachmentRecord {
    var current = try record(interface)
    if current.isSoftware {
      if current.process?.isAlive != true {
        SoftwareDatapath.removeLeftovers(
          interface: interface, state: deployment.state, keepCounters: true)
        current = try startSoftware(
          current, form: current.form, movedFromKernel: current.movedFromKernel ?? false)
      }
      let next: Form = current.form == .batch ? .perPacket : .batch
      if next == .perPacket, current.movedFromKernel == true {
        // The kernel program first, taking over the maps the fallback
        // holds (they vanish with the fallback's pin), then the process.
        let record: AttachmentRecord
        do {
          record = try deployment.attach(
            current.source, to: interface, mode: current.attachMode, form: .perPacket,
            continuingMaps: true)
        } catch {
          throw .deployment(error)
        }
        if let process = current.process { launcher.stop(process, interface: interface) }
        SoftwareDatapath.removeLeftovers(
          interface: interface, state: deployment.state, keepCounters: true)
        return record
      }
      let answer = try DatapathClient(interface: interface, state: deployment.state).request(
        "form \(next.rawValue)")
      guard answer.contains("\"ok\":true") else {
        throw .batchUnavailable(Self.errorText(answer))
      }
      current.form = next
      do {
        try deployment.state.save(current)
      } catch {
        throw .record(error)
      }
      return current
    }
    do {
      return try deployment.swap(interface: interface)
    } catch .batchUnsupported {
      // No batch XDP in this kernel: run the batch form in the software datapath.
      let (_, checked) = try kernelRecord(interface)
      return try startSoftware(checked, form: .batch, movedFromKernel: true)
    } catch {
      throw .deployment(error)
    }
  }

  private func kernelRecord(_ interface: String) throws(DatapathError) -> (
    XDPAttachment, AttachmentRecord
  ) {
    do {
      let (attachment, record) = try deployment.current(interface: interface)
      guard let record else { throw DeploymentError.unknownProgram(interface: interface) }
      return (attachment, record)
    } catch let error as DeploymentError {
      throw .deployment(error)
    } catch {
      throw .deployment(.unknownProgram(interface: interface))
    }
  }

  /// Stops the datapath process (if any), then removes every socket, link,
  /// pin, TAP device, log and record of `interface`.
  public func detach(interface: String) throws(DatapathError) {
    try changing(interface) { () throws(DatapathError) in
      try detachHoldingLock(interface: interface)
    }
  }

  private func detachHoldingLock(interface: String) throws(DatapathError) {
    if let current = deployment.state.record(interface: interface), current.isSoftware,
      let process = current.process
    {
      launcher.stop(process, interface: interface)
    }
    // The log stays after a datapath moved back to the kernel, until detach.
    unlink(launcher.logPath(interface))
    SoftwareDatapath.removeLeftovers(interface: interface, state: deployment.state)
    do {
      try deployment.detach(interface: interface)
    } catch {
      throw .deployment(error)
    }
  }

  /// The running datapath's status, nil when `interface` has none running.
  public func status(interface: String) -> DatapathStatus? {
    guard let current = deployment.state.record(interface: interface), current.isSoftware,
      current.process?.isAlive == true
    else { return nil }
    return try? DatapathClient(interface: interface, state: deployment.state).status()
  }

  static func errorText(_ answer: String) -> String {
    guard let data = answer.data(using: .utf8),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let error = object["error"] as? String
    else { return answer }
    return error
  }
}
