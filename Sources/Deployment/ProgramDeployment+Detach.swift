import Datapath
import Kernel

/// What `detach` did on an interface: xdpbatch's own program, and the
/// programs other tools attached there.
public struct DetachOutcome: Sendable {
  /// Whether xdpbatch's program was detached (its pins and record removed).
  public var detachedOurs: Bool
  /// Other tools' programs detached (with `includingForeign`).
  public var detachedForeign: [AttachedProgram]
  /// Other tools' programs left attached (without `includingForeign`).
  public var leftForeign: [AttachedProgram]
}

extension ProgramDeployment {
  /// Detaches xdpbatch's program from `interface` (``detach(interface:)``),
  /// then, with `includingForeign`, every program another tool attached
  /// there (``detachForeign(interface:programID:)``). Without it, an
  /// interface that runs only another tool's program is refused
  /// (``DeploymentError/foreignOnly(interface:program:)``), and one that
  /// ran both keeps the other tool's.
  ///
  /// Holds the interface's lock throughout: the programs found foreign are
  /// those of one moment no other xdpbatch command is changing.
  public func detach(interface: String, includingForeign: Bool) throws(DeploymentError)
    -> DetachOutcome
  {
    try kernel.changing(interface) { () throws(DeploymentError) -> DetachOutcome in
      recover(interface)
      return try detachHoldingLock(interface: interface, includingForeign: includingForeign)
    }
  }

  private func detachHoldingLock(interface: String, includingForeign: Bool)
    throws(DeploymentError) -> DetachOutcome
  {
    let foreign = try foreignPrograms(interface: interface)
    var outcome = DetachOutcome(detachedOurs: true, detachedForeign: [], leftForeign: [])
    do {
      try detachHoldingLock(interface: interface)
    } catch {
      guard case .attach(.notAttached) = error, let first = foreign.first else { throw error }
      guard includingForeign else { throw .foreignOnly(interface: interface, program: first) }
      outcome.detachedOurs = false
    }
    guard !foreign.isEmpty else { return outcome }
    if includingForeign {
      outcome.detachedForeign = try detachForeign(interface: interface)
    } else {
      outcome.leftForeign = foreign
    }
    return outcome
  }
}

extension ProgramDeployment {
  /// Stops `interface`'s datapath process (`datapath stop`), holding its
  /// lock, and returns its record: the record stays, saying software, so
  /// that readers say the kernel fallback runs the program while the
  /// datapath is dead, and the next `swap` starts it again. Returns when
  /// the process and its TAP device are gone.
  public func stopDatapath(interface: String) throws(DeploymentError) -> (
    pid: Int32, program: String
  ) {
    try kernel.changing(interface) { () throws(DeploymentError) -> (pid: Int32, program: String) in
      let record = recover(interface).record
      guard let record, record.isSoftware, let process = record.process, process.isAlive else {
        throw .datapath(
          .controlSocket(
            path: DatapathClient(interface: interface, state: state).path,
            step: "find the running datapath", errno: .notFound))
      }
      launcher.stop(process, interface: interface)
      return (process.pid, record.program)
    }
  }
}
