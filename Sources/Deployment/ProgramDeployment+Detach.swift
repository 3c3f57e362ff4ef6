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
  public func detach(interface: String, includingForeign: Bool) throws(DeploymentError)
    -> DetachOutcome
  {
    let foreign = try foreignPrograms(interface: interface)
    var outcome = DetachOutcome(detachedOurs: true, detachedForeign: [], leftForeign: [])
    do {
      try detach(interface: interface)
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
