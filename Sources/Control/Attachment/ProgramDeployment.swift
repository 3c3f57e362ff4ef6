import BPF
import Foundation
import Glibc
import Rewriter

/// The command line's attach, swap and detach: an ``XDPAttachment`` plus
/// the ``AttachmentRecord`` that says what it runs, kept in step.
///
/// Every operation either completes or leaves the interface, the pins and
/// the record as they were.
public struct ProgramDeployment: Sendable {
  /// Where records are kept.
  public var state: StateDirectory
  /// Where the kernel's BTF is read for the batch-capability probe.
  public var btfPath: String

  /// Uses the default locations.
  public init(
    state: StateDirectory = StateDirectory(), btfPath: String = BatchKernelSupport.vmlinuxPath
  ) {
    self.state = state
    self.btfPath = btfPath
  }

  /// Attaches `source`'s program to `interface` in `mode`, as `form`, and
  /// records it. An xdpbatch program already there (in the same mode) is
  /// replaced atomically; a foreign one is refused unless `force`.
  @discardableResult
  public func attach(
    _ source: ProgramSource, to interface: String, mode: XDPMode, form: ProgramForm = .perPacket,
    force: Bool = false
  ) throws(DeploymentError) -> AttachmentRecord {
    do {
      _ = try XDPAttachment.interfaceIndex(of: interface)
    } catch {
      throw .attach(error)
    }
    if form == .batch { throw .batchUnsupported(try batchRefusal()) }
    let request: XDPAttachment.Request
    do {
      request = try source.request()
    } catch {
      throw .source(error)
    }
    do {
      if let existing = try XDPAttachment.open(interface: interface),
        let record = state.record(interface: interface), record.attachMode != mode,
        record.programID == (try? existing.program().info().id)
      {
        throw DeploymentError.modeMismatch(interface: interface, attached: record.attachMode)
      }
    } catch let error as DeploymentError {
      throw error
    } catch let error as AttachError {
      throw .attach(error)
    } catch {
      throw .attach(.kernel(SystemCallError("\(error)", code: EIO)))
    }
    do {
      try state.create()
    } catch {
      throw .attach(.kernel(error))
    }
    let previous = state.record(interface: interface)
    let attachment: XDPAttachment
    do {
      attachment = try XDPAttachment.attach(request, to: interface, mode: mode, force: force)
    } catch {
      if case .kernel(let call) = error, call.code == EOPNOTSUPP, mode == .native {
        throw .nativeUnsupported(interface: interface)
      }
      throw .attach(Self.diagnose(error, source: source))
    }
    let object = URL(fileURLWithPath: source.objectPath).standardizedFileURL.path
    do {
      // The operator's choice of rewrite outlives the program it was made for.
      let record = AttachmentRecord(
        interface: interface, object: object, program: source.programName, form: form,
        attachMode: previous?.attachMode ?? mode, strategy: previous?.strategy,
        bound: previous?.bound, programID: try attachment.program().info().id)
      try state.save(record)
      return record
    } catch {
      if previous == nil { try? attachment.detach() }
      throw .attach(.kernel(error))
    }
  }

  /// Alternates the program on `interface` between its per-packet and
  /// batch forms. Fails, changing nothing, where the kernel cannot run
  /// batch programs.
  @discardableResult
  public func swap(interface: String) throws(DeploymentError) -> AttachmentRecord {
    let (_, record) = try current(interface: interface)
    guard let record else { throw .unknownProgram(interface: interface) }
    switch record.form {
    case .perPacket:
      throw .batchUnsupported(try batchRefusal())
    case .batch:
      return try attach(
        ProgramSource(objectPath: record.object, programName: record.program), to: interface,
        mode: record.attachMode, form: .perPacket)
    }
  }

  /// Records `strategy` as the stack strategy of the batch form of the
  /// program on `interface`: what the next swap rewrites with. Running in
  /// per-packet form, only the record changes; running in batch form, the
  /// batch program is rewritten and replaced (refused where the kernel
  /// cannot run it, changing nothing).
  @discardableResult
  public func setStrategy(_ strategy: BatchStrategy, interface: String)
    throws(DeploymentError) -> AttachmentRecord
  {
    let (_, current) = try current(interface: interface)
    guard var record = current else { throw .unknownProgram(interface: interface) }
    if record.form == .batch {
      try attach(record.source, to: interface, mode: record.attachMode, form: .batch)
    }
    record.strategy = strategy.rawValue
    do {
      try state.save(record)
    } catch {
      throw .attach(.kernel(error))
    }
    return record
  }

  /// Moves the batch form of `interface`'s program to the next stack
  /// strategy (shift, reserve, shift, ...); see ``setStrategy(_:interface:)``.
  @discardableResult
  public func cycleStrategy(interface: String) throws(DeploymentError) -> AttachmentRecord {
    let (_, current) = try current(interface: interface)
    guard let record = current else { throw .unknownProgram(interface: interface) }
    let strategies = BatchStrategy.allCases
    let index = strategies.firstIndex(of: record.batchStrategy) ?? 0
    return try setStrategy(strategies[(index + 1) % strategies.count], interface: interface)
  }

  /// Detaches xdpbatch's program from `interface`, removes its pins and record.
  public func detach(interface: String) throws(DeploymentError) {
    do {
      _ = try XDPAttachment.interfaceIndex(of: interface)
      try XDPAttachment.detach(interface: interface)
    } catch {
      throw .attach(error)
    }
    state.removeRecord(interface: interface)
  }

  /// The attachment on `interface` and its record (`nil` when the record
  /// is missing or describes a program no longer attached).
  public func current(interface: String) throws(DeploymentError) -> (
    XDPAttachment, AttachmentRecord?
  ) {
    do throws(AttachError) {
      _ = try XDPAttachment.interfaceIndex(of: interface)
      guard let attachment = try XDPAttachment.open(interface: interface) else {
        throw AttachError.notAttached(interface: interface)
      }
      let programID = try? attachment.program().info().id
      let record = state.record(interface: interface).flatMap {
        $0.programID == programID ? $0 : nil
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
  /// reported as it is.
  static func diagnose(_ error: AttachError, source: ProgramSource) -> AttachError {
    guard case .load(.rejected) = error,
      let plain = try? source.uninstrumentedRequest()
    else { return error }
    do {
      _ = try ProgramLoader(maps: plain.maps, license: plain.license).load(plain.program)
    } catch let original {
      if case .rejected = original { return .load(original) }
    }
    return error
  }

  /// Why the batch form cannot be attached on this kernel.
  func batchRefusal() throws(DeploymentError) -> String {
    let support: BatchKernelSupport
    do {
      support = try BatchKernelSupport.probe(btfPath: btfPath)
    } catch {
      return "the kernel's batch capability cannot be determined: \(error)"
    }
    guard let field = support.actionField else {
      return
        "batch not available: this kernel cannot run batch XDP programs (its struct xdp_buff, \(support.bufferSize) bytes, has no per-buffer action field act/action) and the software batch runtime (AF_XDP + engine) does not exist yet. Nothing was changed."
    }
    return
      "batch not available: this kernel's struct xdp_buff has a per-buffer action field (\(field.name) at offset \(field.offset), struct size \(support.bufferSize)), but attaching batch programs to such a kernel is not supported yet. Nothing was changed."
  }
}

/// Why attach, swap or detach failed. The interface, pins and record are
/// as they were before the call.
public enum DeploymentError: Error, Sendable, CustomStringConvertible {
  /// The object or program could not be prepared.
  case source(ProgramSourceError)
  /// Attaching, replacing or detaching failed.
  case attach(AttachError)
  /// The batch form cannot run here; the text says why.
  case batchUnsupported(String)
  /// An xdpbatch program is attached, but no record says which.
  case unknownProgram(interface: String)
  /// Replacing would need a different XDP mode than the attached one.
  case modeMismatch(interface: String, attached: XDPMode)
  /// The interface's driver has no native XDP (loopback, most virtual
  /// devices but veth); generic XDP works everywhere.
  case nativeUnsupported(interface: String)

  /// A message saying what failed and what to do.
  public var description: String {
    switch self {
    case .source(let error): error.description
    case .attach(let error): Self.withPrivilegeHint(error)
    case .batchUnsupported(let reason): reason
    case .unknownProgram(let interface):
      "xdpbatch has a program on \(interface) but no record of which object it came from; attach it again with `xdpbatch attach \(interface) OBJ.o --program NAME`"
    case .modeMismatch(let interface, let attached):
      "\(interface) runs xdpbatch's program in \(attached.rawValue) mode; detach it first (`xdpbatch detach \(interface)`) to change the mode"
    case .nativeUnsupported(let interface):
      "cannot attach to \(interface) in native mode: its driver has no native XDP (Operation not supported); `--mode skb` (generic) works on any interface"
    }
  }

  private static func withPrivilegeHint(_ error: AttachError) -> String {
    let denied: Bool
    switch error {
    case .kernel(let call): denied = call.isPermissionDenied
    case .load(.kernel(_, let call)), .load(.map(_, let call)): denied = call.isPermissionDenied
    default: denied = false
    }
    return error.description
      + (denied && !Privileges.sufficient
        ? " (this needs root: CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN)" : "")
  }
}
