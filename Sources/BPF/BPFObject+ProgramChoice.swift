extension BPFObject {
  /// The name of the object's one XDP program, for commands whose
  /// `--program` may be left out (as xdp-loader's may): refused, listing
  /// the candidates, when the object has none or several.
  public func onlyXDPProgramName(file: String) throws(ProgramChoiceError) -> String {
    let xdp = programEntries.filter(\.isXDP).map(\.name)
    guard xdp.count == 1, let name = xdp.first else {
      throw ProgramChoiceError(file: file, xdpPrograms: xdp, allPrograms: programNames)
    }
    return name
  }
}

/// `--program` was left out, but the object has no XDP program or more
/// than one.
public struct ProgramChoiceError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The object file.
  public var file: String
  /// Its programs in XDP sections.
  public var xdpPrograms: [String]
  /// All its programs.
  public var allPrograms: [String]

  /// Describes the refusal.
  public init(file: String, xdpPrograms: [String], allPrograms: [String]) {
    self.file = file
    self.xdpPrograms = xdpPrograms
    self.allPrograms = allPrograms
  }

  /// Which programs there are and what to pass.
  public var description: String {
    if xdpPrograms.isEmpty {
      let others = allPrograms.isEmpty ? "none" : allPrograms.joined(separator: ", ")
      return "\(file) has no program in an XDP section (its programs: \(others))"
    }
    return
      "\(file) has \(xdpPrograms.count) XDP programs (\(xdpPrograms.joined(separator: ", "))); choose one with --program"
  }
}
