import Foundation

/// What a finished process left: its exit status and what it printed.
public struct ProcessResult: Sendable {
  /// The exit status (or the signal number, for a killed process).
  public var status: Int32
  /// Standard output.
  public var output: String
  /// Standard error.
  public var errors: String
}

/// Runs `executable` with `arguments` to completion, capturing both streams.
public func runProcess(_ executable: URL, _ arguments: [String]) throws -> ProcessResult {
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  let output = Pipe()
  let errors = Pipe()
  process.standardOutput = output
  process.standardError = errors
  try process.run()
  let outputData = output.fileHandleForReading.readDataToEndOfFile()
  let errorData = errors.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return ProcessResult(
    status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
    errors: String(decoding: errorData, as: UTF8.self))
}

/// Runs `executable` with `arguments` to completion, standard output and
/// standard error on one pipe (as `2>&1 | less` or a log file sees them):
/// its exit status and the text in the order it was written.
public func runProcessOnOnePipe(_ executable: URL, _ arguments: [String]) throws -> (
  status: Int32, text: String
) {
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The `xdpbatch` executable the tests run: `XDPBATCH_BINARY` when set
/// (`make test` sets it to the release build, what users install), else
/// the one `swift build` put beside the test bundle.
public enum BuiltXDPBatch {
  /// Its location, or nil before `swift build`.
  public static let url: URL? = {
    if let path = ProcessInfo.processInfo.environment["XDPBATCH_BINARY"], !path.isEmpty {
      return FileManager.default.isExecutableFile(atPath: path) ? URL(fileURLWithPath: path) : nil
    }
    var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
      .deletingLastPathComponent()
    for _ in 0..<3 {
      let candidate = directory.appendingPathComponent("xdpbatch")
      if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
      directory = directory.deletingLastPathComponent()
    }
    return nil
  }()

  /// Why command tests are skipped when it is missing.
  public static let missing = "xdpbatch executable not built (swift build)"

  /// Why `run` failed before the command did.
  public struct NotBuilt: Error, CustomStringConvertible {
    public var description: String { BuiltXDPBatch.missing }
  }

  /// Runs it; `asNobody` drops to uid/gid 65534 through `setpriv`.
  public static func run(_ arguments: [String], asNobody: Bool = false) throws -> ProcessResult {
    guard let url else { throw NotBuilt() }
    guard asNobody else { return try runProcess(url, arguments) }
    return try runProcess(
      URL(fileURLWithPath: "/usr/bin/setpriv"),
      ["--reuid=65534", "--regid=65534", "--clear-groups", url.path] + arguments)
  }
}
