import BPF
import Kernel

/// Finds the action-counters map of a running program when its pin is
/// gone (an older xdpbatch's rollback could unpin it under a concurrent
/// attach) and pins it again, so the interface is usable without hand
/// repair.
enum CountersRecovery {
  /// The counters map that program `programID` uses, pinned again at
  /// `path`; `nil` when the program uses none.
  static func repin(programID: UInt32, at path: String) throws(SystemCallError) -> KernelMap? {
    let program = try LoadedProgram.open(id: programID)
    for id in try program.mapIDs() {
      guard let map = try? KernelMap.open(id: id),
        map.info.isDeclared(by: ActionCounters.definition)
      else { continue }
      do {
        try map.pin(at: path)
      } catch  where error.errno == .exists {
        return try KernelMap.open(pinnedAt: path, as: ActionCounters.definition)
      }
      return map
    }
    return nil
  }
}
