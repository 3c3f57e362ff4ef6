import BPF
import Deployment
import Kernel

/// The kernel's side of ``TrafficSource``: xdpbatch's attachment found
/// once through its pins and kept open between samples, so that a sample
/// is two reads on open descriptors (the counters map and the program's
/// statistics) and the record file, not a walk of the bpf filesystem.
///
/// The counters include the software datapath's own records (as `stats`
/// adds them, ``CounterSample``), and a reading carries the datapath's
/// status, asked over its control socket at the same pace.
///
/// The handle is dropped and the pins opened again when its link no
/// longer attaches a program to the interface (detached, by this console,
/// the command line or another xdpbatch; the interface went away) or a
/// read through it fails.
public final class PinnedTraffic: TrafficSource {
  private let deployment: ProgramDeployment
  private var attachment: XDPAttachment?

  /// How many times the pins were opened: once per attachment while it
  /// lasts (the tests check that samples reuse the handle).
  public private(set) var pinOpenings = 0

  /// Reads through `deployment`'s pins and records.
  public init(deployment: ProgramDeployment = ProgramDeployment()) {
    self.deployment = deployment
  }

  /// Samples the counters map and the program's run statistics through
  /// the kept handle, with the record if it describes the program seen.
  public func read(interface: String, at time: Double) throws -> TrafficReading? {
    let sample = try throughHandle(interface: interface) { try $0.sample(at: time) }
    guard let sample else { return nil }
    let record = record(interface: interface, programID: sample.programID)
    let status = record?.isSoftware == true ? deployment.status(interface: interface) : nil
    return TrafficReading(
      sample: sample, record: record, datapath: status.map(DatapathReading.init),
      redirectErrors: status.map { $0.redirectErrors ?? RedirectErrors() }
        ?? RedirectErrorTracer.read(interface: interface))
  }

  /// The running software datapath's status, asked over its control socket.
  public func datapath(interface: String) -> DatapathReading? {
    deployment.status(interface: interface).map(DatapathReading.init)
  }

  /// The record of the program the kept link runs now.
  public func record(interface: String) throws -> AttachmentRecord? {
    let programID = try throughHandle(interface: interface) { try $0.program().info().id }
    return programID.flatMap { record(interface: interface, programID: $0) }
  }

  /// `read` on the kept handle; when it is detached or the read fails
  /// (or there is no handle for `interface`), on one opened again from
  /// the pins. `nil` when
  /// xdpbatch has nothing attached to `interface`.
  private func throughHandle<Value>(
    interface: String, _ read: (XDPAttachment) throws -> Value
  ) throws -> Value? {
    if let attachment, attachment.interface == interface, Self.isAttached(attachment),
      let value = try? read(attachment)
    {
      return value
    }
    attachment = nil
    let opened: XDPAttachment
    do {
      opened = try deployment.current(interface: interface).0
    } catch DeploymentError.attach(.notAttached) {
      return nil
    }
    pinOpenings += 1
    attachment = opened
    return try read(opened)
  }

  /// Whether the kept link still attaches a program to its interface. A
  /// detached link keeps its program and counters readable, so a read
  /// through it would succeed with the old program's figures.
  private static func isAttached(_ attachment: XDPAttachment) -> Bool {
    // Through a throwing function type: a failed info call is a dead handle.
    let info: () throws -> XDPLink.Info = attachment.link.info
    return (try? info())?.interfaceIndex == attachment.interfaceIndex
  }

  /// The record of `interface` if it describes program `programID`.
  private func record(interface: String, programID: UInt32) -> AttachmentRecord? {
    deployment.state.record(interface: interface).flatMap {
      $0.programID == programID ? $0 : nil
    }
  }
}
