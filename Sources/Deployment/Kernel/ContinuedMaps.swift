import Kernel

extension ProgramSpec {
  /// This spec taking over the maps of the program deployed on
  /// `interface` (the user's program, behind the software datapath's
  /// redirect program when one runs) that it declares alike
  /// (``ProgramSpec/adoptingMaps(of:)``). Moving an interface between the
  /// kernel and the software datapath, or restarting a datapath, thus
  /// keeps the entries the user put in (a filled DEVMAP) and what the
  /// kernel counted.
  public func continuingMaps(of interface: String) -> ProgramSpec {
    guard let running = try? DeployedProgram.on(interface).program.maps() else { return self }
    return adoptingMaps(of: running)
  }
}
