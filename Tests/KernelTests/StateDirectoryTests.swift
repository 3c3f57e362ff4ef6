import BPF
import Foundation
import Glibc
import Kernel
import Testing

/// The state directory's files without root: written whole, and the
/// temporary files of killed writers removed, and only those.
@Suite struct StateDirectoryTests {
  static func scratch() -> StateDirectory {
    StateDirectory(
      path: FileManager.default.temporaryDirectory.appendingPathComponent(
        "xbt-state-\(UInt32.random(in: 0..<UInt32.max))"
      ).path)
  }

  /// A pid no process has (the kernel's largest is 4194304).
  static let deadPID: pid_t = 4_194_303

  @Test func writesAreWholeAndPrivate() throws {
    let state = Self.scratch()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    try state.create()
    let file = state.file("eth0.json")
    try state.write(Data("{\"a\":1}".utf8), to: file)
    try state.write(Data("{\"b\":2}".utf8), to: file)
    #expect(FileManager.default.contents(atPath: file) == Data("{\"b\":2}".utf8))
    var status = stat()
    #expect(stat(file, &status) == 0 && status.st_mode & 0o777 == 0o600)
    #expect(stat(state.path, &status) == 0 && status.st_mode & 0o777 == 0o700)
    #expect(try FileManager.default.contentsOfDirectory(atPath: state.path) == ["eth0.json"])
  }

  @Test func onlyTheAbandonedTemporariesOfTheFileGo() throws {
    let state = Self.scratch()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    try state.create()
    let names = [
      "eth0.json.tmp.\(Self.deadPID)", "eth0.json.next.tmp.\(Self.deadPID)",
      "eth0.json.tmp.\(getpid())", "eth0.jsonx.tmp.\(Self.deadPID)", "eth0.json",
      "eth1.json.tmp.\(Self.deadPID)",
    ]
    for name in names { try Data().write(to: URL(fileURLWithPath: state.file(name))) }
    #expect(kill(Self.deadPID, 0) != 0 && errno == ESRCH)
    state.removeAbandonedTemporaries(of: state.file("eth0.json"))
    let left = Set(try FileManager.default.contentsOfDirectory(atPath: state.path))
    #expect(
      left == [
        "eth0.json.tmp.\(getpid())", "eth0.jsonx.tmp.\(Self.deadPID)", "eth0.json",
        "eth1.json.tmp.\(Self.deadPID)",
      ])
  }

  /// `demo down` removes the directory when it finds it empty; a writer
  /// between its `create()` and its file (here: after) makes it again,
  /// root's only, and writes (before: ENOENT, "create …tmp.PID").
  @Test func aWriteMakesTheDirectoryAgainWhenItWasRemovedMeanwhile() throws {
    let state = Self.scratch()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    try state.create()
    #expect(rmdir(state.path) == 0)
    let file = state.file("eth0.json")
    try state.write(Data("{}".utf8), to: file)
    #expect(FileManager.default.contents(atPath: file) == Data("{}".utf8))
    var status = stat()
    #expect(stat(state.path, &status) == 0 && status.st_mode & 0o777 == 0o700)
  }

  /// Only a missing directory is made again: another failure stays one.
  @Test func onlyAMissingDirectoryIsMadeAgain() throws {
    let state = Self.scratch()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    try state.create()
    #expect(!state.remadeAfterRemoval(.notFound))  // it is there: the file's own ENOENT
    #expect(rmdir(state.path) == 0)
    #expect(!state.remadeAfterRemoval(.accessDenied))
    #expect(access(state.path, F_OK) != 0)
    #expect(state.remadeAfterRemoval(.notFound))
    var status = stat()
    #expect(stat(state.path, &status) == 0 && status.st_mode & 0o777 == 0o700)
  }

  /// A file made in a directory removed meanwhile is made again, up to
  /// ``StateDirectory/removalRetries`` times; any other failure at once.
  @Test func aFileIsMadeAgainInARemovedDirectoryUpToTheRetryCount() throws {
    let state = Self.scratch()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    try state.create()
    let file = state.file("eth0.lock")
    // The directory goes before each of the first `removals` tries.
    func attempts(removals: Int) -> (count: Int, error: SystemCallError?) {
      var count = 0
      do {
        let fd = try state.makingFile { () throws(SystemCallError) in
          count += 1
          if count <= removals { rmdir(state.path) }
          return try SystemCall.check("create \(file)") { open(file, O_WRONLY | O_CREAT, 0o600) }
        }
        close(fd)
        unlink(file)
        return (count, nil)
      } catch {
        return (count, error)
      }
    }
    let once = attempts(removals: 1)
    #expect(once.count == 2 && once.error == nil)
    let always = attempts(removals: .max)
    #expect(always.count == StateDirectory.removalRetries + 1)
    #expect(always.error?.errno == .notFound)
    try state.create()
    var count = 0
    #expect(throws: SystemCallError("create", errno: .accessDenied)) {
      try state.makingFile { () throws(SystemCallError) -> Int in
        count += 1
        throw SystemCallError("create", errno: .accessDenied)
      }
    }
    #expect(count == 1)
  }
}
