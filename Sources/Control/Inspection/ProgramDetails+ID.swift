extension ProgramDetails {
  /// Reads program `id`, whoever loaded it: what the console shows for a
  /// program another tool attached.
  public static func read(id: UInt32) throws(SystemCallError) -> ProgramDetails {
    try ProgramDetails(LoadedProgram.open(id: id).descriptor)
  }

  /// What the kernel says about each map the program uses; a map that
  /// went away since the program was read is left out.
  public func maps() -> [MapSummary] {
    mapIDs.compactMap { id in try? InspectedMap.open(id: id).summary }
  }
}
