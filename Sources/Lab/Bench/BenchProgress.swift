/// Where a bench reports what it is doing: a step as it starts (`bench
/// [12s] samples in the engine (jit) ...` on the command line), a note
/// when something is skipped or fails.
public struct BenchProgress: Sendable {
  /// A step starts.
  public var step: @Sendable (String) -> Void
  /// Something to know: skipped, failed, done.
  public var note: @Sendable (String) -> Void

  /// Reports through `step` and `note`.
  public init(
    step: @escaping @Sendable (String) -> Void, note: @escaping @Sendable (String) -> Void
  ) {
    self.step = step
    self.note = note
  }

  /// Reports nothing.
  public static let silent = BenchProgress(step: { _ in }, note: { _ in })
}
