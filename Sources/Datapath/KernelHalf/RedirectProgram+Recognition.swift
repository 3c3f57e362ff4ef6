import Kernel

/// The software datapath's redirect program as found attached to an
/// interface, whoever looks (the deployment following it to the user's
/// program, the console, `maps` and `prog`): recognised by its name and
/// its PROG_ARRAY, whose slot 0 holds the user's program.
public struct DatapathRedirect: Hashable, Sendable {
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
  /// is the software datapath's (named ``RedirectProgram/name``, with a
  /// PROG_ARRAY named like ``RedirectProgram/fallbackMap``), nil for any
  /// other program.
  public static func of(programID id: UInt32) throws(SystemCallError) -> DatapathRedirect? {
    try of(LoadedProgram.open(id: id))
  }

  /// As ``of(programID:)``, for an open program.
  public static func of(_ program: LoadedProgram) throws(SystemCallError) -> DatapathRedirect? {
    let info = try program.info()
    guard info.name == RedirectProgram.name else { return nil }
    for map in try program.maps() where map.info.matches(RedirectProgram.fallbackMap) {
      guard map.info.name == RedirectProgram.fallbackMap.name else { continue }
      // A PROG_ARRAY looked up from user space gives the program's id.
      let fallback = try map.lookup(key: KernelMap.key(0))?.first.map { bytes in
        bytes.prefix(4).enumerated().reduce(UInt32(0)) {
          $0 | UInt32($1.element) << (8 * $1.offset)
        }
      }
      return DatapathRedirect(redirectID: info.id, fallbackID: fallback)
    }
    return nil
  }

  /// The program the software datapath runs on an interface whose
  /// attached program is `id`: the user's program when `id` is the
  /// redirect program with a filled fallback slot, else `id` itself.
  public static func userProgramID(attached id: UInt32) -> UInt32 {
    ((try? of(programID: id)) ?? nil)?.fallbackID ?? id
  }
}
