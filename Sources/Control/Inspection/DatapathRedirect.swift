import BPF
import Glibc

/// The software datapath's kernel half as inspection sees it: the small
/// redirect program attached to an interface the software datapath runs,
/// which steers frames to AF_XDP sockets and otherwise tail-calls the
/// user's program in slot 0 of its fallback PROG_ARRAY. Inspection
/// (`maps`, `map …`, `prog`, the console's maps pane, the demo's redirect
/// maps) follows that slot to the user's program, whose maps are the ones
/// an operator means.
///
/// The names and pin paths live here, below the Datapath layer that
/// loads the program, so that Control can recognise it without importing it.
public struct DatapathRedirect: Hashable, Sendable {
  /// The redirect program's name in the kernel.
  public static let programName = "xdpbatch_xsk"
  /// Its XSKMAP (queue -> AF_XDP socket).
  public static let socketsMapName = "xdpbatch_xsks"
  /// Its PROG_ARRAY; slot 0 holds the user's per-packet program.
  public static let fallbackMapName = "xdpbatch_fallbk"

  /// Where the sockets map is pinned in an interface's directory.
  public static func socketsPath(_ directory: PinDirectory) -> String {
    directory.path + "/sockets"
  }

  /// Where the fallback PROG_ARRAY is pinned in an interface's directory.
  public static func fallbackPath(_ directory: PinDirectory) -> String {
    directory.path + "/fallback"
  }

  /// The redirect program's kernel id.
  public var redirectID: UInt32
  /// The user's program in the fallback slot, nil when the slot is empty.
  public var fallbackID: UInt32?

  /// Describes a redirect program and its fallback.
  public init(redirectID: UInt32, fallbackID: UInt32?) {
    self.redirectID = redirectID
    self.fallbackID = fallbackID
  }

  /// Reads program `id`: the redirect program with its fallback when it
  /// is the software datapath's (named ``programName``, with a PROG_ARRAY
  /// named ``fallbackMapName``), nil for any other program.
  public static func of(programID id: UInt32) throws(SystemCallError) -> DatapathRedirect? {
    try of(ProgramDetails.read(id: id))
  }

  /// As ``of(programID:)``, from the program's details.
  public static func of(_ details: ProgramDetails) throws(SystemCallError) -> DatapathRedirect? {
    guard details.name == programName else { return nil }
    for mapID in details.mapIDs {
      let map = try InspectedMap.open(id: mapID)
      guard map.summary.type == .programArray, map.summary.name == fallbackMapName,
        map.summary.keySize == 4, map.summary.valueSize == 4
      else { continue }
      // A PROG_ARRAY looked up from user space gives the program's id.
      let value = try map.lookup(key: [0, 0, 0, 0])?.first
      let fallback = value.map { bytes in
        bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
      }
      return DatapathRedirect(redirectID: details.id, fallbackID: fallback)
    }
    return nil
  }

  /// The program inspection means for an interface whose attached program
  /// is `id`: the user's program when `id` is the software datapath's
  /// redirect program with a filled fallback slot, else `id` itself.
  public static func userProgramID(attached id: UInt32) -> UInt32 {
    ((try? of(programID: id)) ?? nil)?.fallbackID ?? id
  }
}
