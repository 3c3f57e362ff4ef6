import Foundation
import Glibc

/// A finished process and the most memory it held resident.
public struct MeasuredProcess: Sendable {
  /// Its status and what it printed.
  public var result: ProcessResult
  /// Its peak resident set (`ru_maxrss` from `wait4`), in bytes: this one
  /// process's, unlike `RUSAGE_CHILDREN`, which is the largest of every
  /// child the test process ever waited for.
  public var maximumResident: Int
}

/// Why a measured process could not be run.
public struct SpawnFailure: Error, CustomStringConvertible {
  public var description: String
}

/// Runs `executable` with `arguments` to completion (output and errors to
/// files of its own), and measures its peak resident set.
public func runMeasuringMemory(_ executable: URL, _ arguments: [String]) throws
  -> MeasuredProcess
{
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "xdpbatch-measured-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
  defer { try? FileManager.default.removeItem(at: folder) }
  let outputPath = folder.appendingPathComponent("out").path
  let errorPath = folder.appendingPathComponent("err").path

  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_EXCL, 0o600)
  posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_EXCL, 0o600)
  let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
  defer { argv.forEach { free($0) } }
  var pid: pid_t = 0
  let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, environ)
  guard spawned == 0 else {
    throw SpawnFailure(description: "posix_spawn \(executable.path): errno \(spawned)")
  }
  var status: Int32 = 0
  var usage = rusage()
  while wait4(pid, &status, 0, &usage) < 0 {
    guard errno == EINTR else { throw SpawnFailure(description: "wait4: errno \(errno)") }
  }
  // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
  let exited = status & 0x7f == 0
  let code = exited ? (status >> 8) & 0xff : status & 0x7f
  let result = ProcessResult(
    status: code,
    output: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
    errors: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
  return MeasuredProcess(result: result, maximumResident: usage.ru_maxrss * 1024)
}
