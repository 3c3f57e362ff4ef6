import Foundation

/// A directory under the temporary directory that a test writes into,
/// named after the test and its process so that parallel runs do not
/// meet; ``remove()`` takes it and everything in it away.
public struct ScratchDirectory: Sendable {
  /// Its path.
  public let path: String

  /// Creates `TMPDIR/NAME-PID`.
  public init(_ name: String) throws {
    path =
      FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid())")
      .path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  /// The path of `file` in the directory.
  public func file(_ name: String) -> String { path + "/" + name }

  /// Removes the directory and its contents.
  public func remove() {
    try? FileManager.default.removeItem(atPath: path)
  }
}
