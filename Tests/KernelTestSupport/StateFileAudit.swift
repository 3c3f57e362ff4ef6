import Deployment
import Foundation
import Kernel
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// What a test left of an interface in the state directory that nothing
/// justifies any more. Every network fixture runs it in its teardown, so
/// every test that attaches checks that xdpbatch removes what it stops
/// with: a lock file nobody holds is justified only while the interface
/// still has xdpbatch's record, pending record or pins; the datapath's
/// process lock only while a datapath child holds it or a record names a
/// software datapath (one killed, which the next command repairs).
public enum StateFileAudit {
  /// The unjustified files of `interface` in `state` (paths).
  public static func unjustifiedFiles(
    of interface: String, in state: StateDirectory = StateDirectory()
  ) -> [String] {
    let record = state.record(interface: interface)
    let pending = state.pendingRecord(interface: interface)
    let pinned = PinDirectory.exists(PinDirectory(interface: interface).path)
    var left: [String] = []
    let lock = state.file(interface + ".lock")
    if access(lock, F_OK) == 0, !FileLock.holder(of: lock).held, record == nil, pending == nil,
      !pinned
    {
      left.append(lock)
    }
    let processLock = state.file(interface + ".datapath")
    if access(processLock, F_OK) == 0, !FileLock.holder(of: processLock).held,
      record?.isSoftware != true, pending?.isSoftware != true
    {
      left.append(processLock)
    }
    return left
  }

  /// Records an issue for each of `interfaces`' unjustified files.
  public static func expectNothingLeft(
    of interfaces: [String], in state: StateDirectory = StateDirectory()
  ) {
    for interface in interfaces {
      let left = unjustifiedFiles(of: interface, in: state)
      if !left.isEmpty {
        Issue.record(
          "the test left \(left.joined(separator: ", ")) (nothing of \(interface) needs it)")
      }
    }
  }
}
