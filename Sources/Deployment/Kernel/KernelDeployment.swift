import BPF
import Foundation
import Glibc
import Kernel

/// Attach, swap and detach on the kernel datapath: an ``XDPAttachment``
/// plus the ``AttachmentRecord`` that says what it runs, kept in step.
/// ``ProgramDeployment`` uses it for the kernel's part of every operation.
///
/// Every operation either completes or leaves the interface, the pins and
/// the record as they were.
struct KernelDeployment: Sendable {
  /// Where records are kept.
  var state: StateDirectory
  /// Where the kernel's BTF is read for the batch-capability probe.
  var btfPath: String
  /// How the pinned link's information is read: the kernel, or a test's
  /// reader that fails with a chosen errno.
  var readLinkInfo: XDPLink.InfoReader

  /// Uses the default locations.
  init(
    state: StateDirectory = StateDirectory(), btfPath: String = BatchKernelSupport.vmlinuxPath,
    readLinkInfo: @escaping XDPLink.InfoReader = XDPLink.kernelInfo
  ) {
    self.state = state
    self.btfPath = btfPath
    self.readLinkInfo = readLinkInfo
  }

  /// Attaches `source`'s program to `interface` in `mode`, as `form`, and
  /// records it. An xdpbatch program already there (in the same mode) is
  /// replaced atomically; a foreign one is refused unless `force`. Holds
  /// the interface's ``InterfaceLock`` throughout. With `continuingMaps`
  /// the program takes over the maps of the program it replaces that its
  /// object declares alike (``ProgramSpec/continuingMaps(of:)``),
  /// as when the same program moves back from the software datapath.
  @discardableResult
  func attach(
    _ source: ProgramSource, to interface: String, mode: AttachMode, form: Form = .perPacket,
    force: Bool = false, continuingMaps: Bool = false
  ) throws(DeploymentError) -> AttachmentRecord {
    try changing(interface) { () throws(DeploymentError) in
      try attachHoldingLock(
        source, to: interface, mode: mode, form: form, force: force,
        continuingMaps: continuingMaps)
    }
  }

  /// ``attach(_:to:mode:form:force:continuingMaps:)`` with the lock already held.
  ///
  /// Crash consistency: the record of the new program is written as the
  /// pending record once the program is loaded (its id known) and before
  /// the kernel runs it, and renamed over the record afterwards. Killed
  /// at any point, the kernel runs either the program of the record or
  /// that of the pending record, and ``current(interface:)`` picks the one
  /// that matches.
  private func attachHoldingLock(
    _ source: ProgramSource, to interface: String, mode: AttachMode, form: Form, force: Bool,
    continuingMaps: Bool = false
  ) throws(DeploymentError) -> AttachmentRecord {
    let index: UInt32
    do {
      index = try XDPAttachment.interfaceIndex(of: interface)
    } catch {
      throw .attach(error)
    }
    if mode == .offload {
      throw .offloadUnsupported(OffloadSupport.refusal(interface: interface, index: index))
    }
    let previous = state.record(interface: interface)
    let batchInterface = form == .batch ? try batchInterface(on: interface, mode: mode) : nil
    var spec: ProgramSpec
    do {
      if let batchInterface {
        spec = try source.kernelBatchSpec(
          batchInterface, strategy: previous?.strategy ?? .default)
      } else {
        spec = try source.instrumentedSpec()
      }
    } catch {
      throw .source(error)
    }
    if continuingMaps { spec = spec.continuingMaps(of: interface) }
    let object = URL(fileURLWithPath: source.objectPath).standardizedFileURL.path
    // The operator's choice of rewrite outlives the program it was made for.
    var record = AttachmentRecord(
      interface: interface, object: object, program: source.programName, form: form,
      attachMode: mode, strategy: previous?.strategy ?? .default,
      bound: previous?.bound ?? .default, programID: 0)
    let attachment: XDPAttachment
    do throws(AttachError) {
      attachment = try XDPAttachment.attach(
        spec, to: interface, mode: mode, force: force, readInfo: readLinkInfo
      ) { (program) throws(AttachError) in
        record.programID = try kernel { () throws(SystemCallError) in try program.info().id }
        do throws(RecordError) {
          try state.savePending(record)
        } catch {
          throw .record(error)
        }
      }
    } catch {
      state.removePending(interface: interface)
      if case .record(let failure) = error { throw .record(failure) }
      if case .kernel(let call) = error, call.errno == .operationNotSupported, mode == .native {
        throw .nativeUnsupported(interface: interface)
      }
      throw .attach(Self.diagnose(error, source: source))
    }
    do {
      if let attached = try attachment.mode() { record.attachMode = attached }
    } catch {
      throw .attach(.kernel(error))
    }
    do {
      try state.save(record)
    } catch {
      throw .record(error)
    }
    state.removePending(interface: interface)
    // Failed redirects are counted where the kernel permits it; where it
    // refuses, `stats` says so (``RedirectErrorTracer/unavailable(interface:)``).
    try? RedirectErrorTracer.install(interface: interface, index: index)
    return record
  }

  /// Runs `body` holding `interface`'s lock.
  func changing<T>(_ interface: String, _ body: () throws(DeploymentError) -> T)
    throws(DeploymentError) -> T
  {
    let lock: InterfaceLock
    do {
      lock = try InterfaceLock.acquire(interface: interface, state: state)
    } catch {
      throw .lock(error)
    }
    defer { withExtendedLifetime(lock) {} }
    try refuseOtherNamespace(interface)
    return try body()
  }

  /// The network namespace, other than this command's, in which the
  /// record (or pending record) for `interface` was made; nil when it was
  /// made here, names none (records from before namespaces were kept), or
  /// this command's namespace cannot be read.
  func otherNamespace(of interface: String) -> UInt64? {
    guard let here = NetworkNamespace.currentIdentifier else { return nil }
    return [state.record(interface: interface), state.pendingRecord(interface: interface)]
      .lazy.compactMap { $0?.networkNamespace }.first { $0 != here }
  }

  /// Refuses `interface` when its record belongs to another network
  /// namespace (``DeploymentError/otherNamespace(interface:namespace:name:)``).
  func refuseOtherNamespace(_ interface: String) throws(DeploymentError) {
    guard let there = otherNamespace(of: interface) else { return }
    throw .otherNamespace(
      interface: interface, namespace: there, name: NetworkNamespace.name(ofIdentifier: there))
  }

  /// Alternates the program on `interface` between its per-packet and
  /// batch forms by `BPF_LINK_UPDATE`, the new form taking over the maps
  /// of the old (counters, a filled DEVMAP). Fails, changing nothing,
  /// where the kernel or the interface's driver cannot run batch programs
  /// (``DeploymentError/batchUnsupported(_:)``).
  @discardableResult
  func swap(interface: String) throws(DeploymentError) -> AttachmentRecord {
    try changing(interface) { () throws(DeploymentError) in
      let (_, record) = try current(interface: interface)
      guard let record else { throw .unknownProgram(interface: interface) }
      return try attachHoldingLock(
        record.source, to: interface, mode: record.attachMode,
        form: record.form == .batch ? .perPacket : .batch, force: false, continuingMaps: true)
    }
  }

  /// Records `strategy` as the stack strategy of the batch form of the
  /// program on `interface`: what the next swap rewrites with. Running in
  /// per-packet form, only the record changes; running in batch form, the
  /// batch program is rewritten and replaced (refused where the kernel
  /// cannot run it, changing nothing).
  @discardableResult
  func setStrategy(_ strategy: BatchStrategy, interface: String)
    throws(DeploymentError) -> AttachmentRecord
  {
    try changing(interface) { () throws(DeploymentError) in
      try setStrategyHoldingLock(strategy, interface: interface)
    }
  }

  private func setStrategyHoldingLock(_ strategy: BatchStrategy, interface: String)
    throws(DeploymentError) -> AttachmentRecord
  {
    let (_, current) = try current(interface: interface)
    guard var record = current else { throw .unknownProgram(interface: interface) }
    record.strategy = strategy
    if record.form == .batch {
      do {
        try state.save(record)
      } catch {
        throw .record(error)
      }
      record = try attachHoldingLock(
        record.source, to: interface, mode: record.attachMode, form: .batch, force: false,
        continuingMaps: true)
    }
    do {
      try state.save(record)
    } catch {
      throw .record(error)
    }
    return record
  }

  /// Moves the batch form of `interface`'s program to the next stack
  /// strategy (shift, reserve, shift, ...); see ``setStrategy(_:interface:)``.
  @discardableResult
  func cycleStrategy(interface: String) throws(DeploymentError) -> AttachmentRecord {
    try changing(interface) { () throws(DeploymentError) in
      let (_, current) = try current(interface: interface)
      guard let record = current else { throw .unknownProgram(interface: interface) }
      let strategies = BatchStrategy.allCases
      let index = strategies.firstIndex(of: record.strategy) ?? 0
      return try setStrategyHoldingLock(
        strategies[(index + 1) % strategies.count], interface: interface)
    }
  }

  /// Detaches xdpbatch's program from `interface`, removes its pins and
  /// record. With no program attached it still removes what an
  /// interrupted attach may have left (a counters pin, a record) and
  /// reports ``AttachError/notAttached(interface:)``.
  func detach(interface: String) throws(DeploymentError) {
    try changing(interface) { () throws(DeploymentError) in
      do throws(AttachError) {
        _ = try XDPAttachment.interfaceIndex(of: interface)
        try XDPAttachment.detach(interface: interface, readInfo: readLinkInfo)
      } catch {
        if case .notAttached = error {
          let pins = PinDirectory(interface: interface)
          unlink(pins.countersPath)
          pins.removeDirectories()
          state.removeRecord(interface: interface)
        }
        throw .attach(error)
      }
      state.removeRecord(interface: interface)
    }
  }

  /// The attachment on `interface` and its record (`nil` when no record
  /// describes the program the kernel runs). The record's attach mode is
  /// the one the kernel reports (`IFLA_XDP`), whatever the file says.
  ///
  /// After an interrupted attach the pending record may be the one that
  /// describes the kernel's program: it is then made the record.
  func current(interface: String) throws(DeploymentError) -> (
    XDPAttachment, AttachmentRecord?
  ) {
    try refuseOtherNamespace(interface)
    do throws(AttachError) {
      _ = try XDPAttachment.interfaceIndex(of: interface)
      guard let attachment = try XDPAttachment.open(interface: interface, readInfo: readLinkInfo)
      else {
        throw AttachError.notAttached(interface: interface)
      }
      let programID = try kernel { () throws(SystemCallError) in try attachment.programID() }
      var record = state.record(interface: interface).flatMap {
        $0.programID == programID ? $0 : nil
      }
      if record == nil, let pending = state.pendingRecord(interface: interface),
        pending.programID == programID
      {
        try? state.promotePending(interface: interface)
        record = pending
      }
      if record != nil,
        let mode = try kernel({ () throws(SystemCallError) in try attachment.mode() })
      {
        record?.attachMode = mode
      }
      return (attachment, record)
    } catch {
      throw .attach(error)
    }
  }

  /// For a verifier rejection of the instrumented program: the verifier's
  /// verdict on the program as compiled, whose instruction indices are
  /// those of the object (and of `xdpbatch disasm`). When the program as
  /// compiled loads, the instrumentation is to blame and the rejection is
  /// reported as it is. The rejected instruction's source line is added
  /// from the object's line info, when it has some.
  static func diagnose(_ error: AttachError, source: ProgramSource) -> AttachError {
    guard case .load(.rejected) = error,
      let plain = try? source.compiledSpec()
    else { return error }
    do {
      _ = try plain.load()
    } catch let original {
      guard case .rejected(let program, let instruction, let reason, let errno, _) = original
      else { return error }
      let line = instruction.flatMap { index in
        (try? BPFObject(contentsOf: source.objectPath))?.sourceLine(of: index, in: plain.program)
      }
      return .load(
        .rejected(
          program: program, instruction: instruction, reason: reason, errno: errno, source: line))
    }
    return error
  }

  /// The batch program interface of the kernel, if it runs batch programs
  /// on `interface` in `mode`: its BTF has the batch patches' interface,
  /// the mode is native and the driver has `batch` in its XDP features.
  /// Otherwise ``DeploymentError/batchUnsupported(_:)`` says what is
  /// missing.
  func batchInterface(on interface: String, mode: AttachMode)
    throws(DeploymentError) -> KernelBatchInterface
  {
    let support: BatchKernelSupport
    do {
      support = try BatchKernelSupport.probe(btfPath: btfPath)
    } catch {
      throw .batchUnsupported(.undetermined(error))
    }
    guard let batch = support.interface else {
      guard let field = support.actionField, let error = support.interfaceError else {
        throw .batchUnsupported(.noActionField(bufferSize: support.bufferSize))
      }
      throw .batchUnsupported(.otherInterface(field: field, error))
    }
    guard mode == .native else { throw .batchUnsupported(.mode(mode)) }
    let device = try? InterfaceInventory.query()[name: interface]
    guard device?.xdpFeatures?.contains(.batch) == true else {
      throw .batchUnsupported(.driver(interface: interface, driver: device?.driver?.driver))
    }
    return batch
  }
}
