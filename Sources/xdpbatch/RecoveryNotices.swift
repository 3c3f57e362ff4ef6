import Deployment

extension ProgramDeployment {
  /// A deployment whose recovery notices (a killed capture's variant
  /// replaced by the original program) go to standard error.
  static func commandLine() -> ProgramDeployment {
    var deployment = ProgramDeployment()
    deployment.notices = { writeToStandardError("xdpbatch: \($0)") }
    return deployment
  }
}
