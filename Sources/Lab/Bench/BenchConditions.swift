import Engine
import Glibc

/// What every figure of one `bench` run was measured under: the build of
/// this executable, the engine, the machine and its load when the run
/// began and ended. Figures from a debug build or a loaded machine do not
/// compare with the README's; this says which they are.
public struct BenchConditions: Encodable, Sendable {
  /// `release` or `debug`: the build of the code that measured.
  public var build: String
  /// The engine of the engine figures (`jit` or `interpreter`).
  public var engine: String
  /// The machine when the run began.
  public var machine: MachineDescription
  /// The 1, 5 and 15 minute load averages when the run ended.
  public var loadAtEnd: [Double]?

  /// This build, `engine` and this machine, now.
  public static func now(engine: EngineKind) -> BenchConditions {
    BenchConditions(
      build: currentBuild, engine: "\(engine)", machine: .current(), loadAtEnd: nil)
  }

  /// These conditions with the load of now as the load at the end.
  public func ended() -> BenchConditions {
    var conditions = self
    conditions.loadAtEnd = MachineDescription.current().load
    return conditions
  }

  /// The build this code was compiled in.
  public static var currentBuild: String {
    #if DEBUG
      "debug"
    #else
      "release"
    #endif
  }
}
