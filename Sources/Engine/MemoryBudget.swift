import Foundation
import Synchronization

/// The one memory budget every engine machine of a process draws from.
///
/// A machine's address space is reserved, not allocated: host pages exist
/// only once written. What a machine *may* commit is charged here before it
/// becomes reachable: stack and packet frames when mapped, array map
/// values (which programs address directly) at their declared size, hash
/// and device map storage as entries are added. So the process never
/// commits more engine memory than the budget, however many machines
/// `check` builds, and a map declaring 67 M entries of which 10 are used
/// costs 10 entries. Past the budget, a map or region is refused with its
/// name and size.
public final class MemoryBudget: Sendable {
  /// The budget `xdpbatch` commands draw from (`--memory` sets its limit).
  public static let shared = MemoryBudget(limit: defaultLimit)

  /// Half the physical memory: what the process may commit by default.
  public static var defaultLimit: Int {
    Int(clamping: ProcessInfo.processInfo.physicalMemory / 2)
  }

  private let state: Mutex<(limit: Int, used: Int)>

  /// Makes a budget of `limit` bytes, none in use.
  public init(limit: Int) {
    state = Mutex((limit: max(0, limit), used: 0))
  }

  /// The most bytes machines may hold at once.
  public var limit: Int {
    get { state.withLock { $0.limit } }
    set { state.withLock { $0.limit = max(0, newValue) } }
  }

  /// Bytes charged now.
  public var used: Int { state.withLock { $0.used } }

  /// Charges `bytes` for `name`, or refuses when the budget cannot hold them.
  func charge(_ bytes: Int, for name: String) throws(MemoryBudgetError) {
    let refusal: MemoryBudgetError? = state.withLock { state in
      guard bytes <= state.limit - state.used else {
        return MemoryBudgetError(
          name: name, requested: bytes, used: state.used, limit: state.limit)
      }
      state.used += bytes
      return nil
    }
    if let refusal { throw refusal }
  }

  /// Gives back bytes an earlier ``charge(_:for:)`` took.
  func release(_ bytes: Int) {
    state.withLock { $0.used -= bytes }
  }
}

/// Why the engine refused memory: what asked for it, how much, and how full
/// the budget was.
public struct MemoryBudgetError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The region or map (`map flows`, `packet frame 3`).
  public var name: String
  /// Bytes asked for.
  public var requested: Int
  /// Bytes in use when it was asked.
  public var used: Int
  /// The budget's limit.
  public var limit: Int

  /// `map flows: 512 MiB would exceed the memory budget (1.2 GiB of 2 GiB in use; --memory raises it)`.
  public var description: String {
    "\(name): \(Self.format(requested)) would exceed the memory budget "
      + "(\(Self.format(used)) of \(Self.format(limit)) in use; --memory raises it)"
  }

  /// Bytes in the largest binary unit that keeps the number at least 1.
  public static func format(_ bytes: Int) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    if unit == 0 { return "\(bytes) bytes" }
    let rounded = (value * 10).rounded() / 10
    let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    return "\(text) \(units[unit])"
  }
}
