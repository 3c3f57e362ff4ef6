import Console
import Foundation
import Testing

/// Compares a rendered grid with its reference file under
/// `Tests/ConsoleTests/__Snapshots__/`. A missing or different reference
/// fails the test. `CONSOLE_SNAPSHOTS=record` writes the references (and
/// still fails, so that a recording run is never mistaken for a pass).
enum ScreenSnapshots {
  static var directory: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("__Snapshots__")
  }

  static var recording: Bool {
    ProcessInfo.processInfo.environment["CONSOLE_SNAPSHOTS"] == "record"
  }

  static func check(
    _ grid: ScreenGrid, named name: String, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let actual = GridTranscript(grid).text
    let file = directory.appendingPathComponent(name + ".txt")
    if recording {
      try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      do {
        try actual.write(to: file, atomically: true, encoding: .utf8)
        Issue.record(
          "recorded \(file.lastPathComponent); run again without CONSOLE_SNAPSHOTS=record",
          sourceLocation: sourceLocation)
      } catch {
        Issue.record("cannot write \(file.path): \(error)", sourceLocation: sourceLocation)
      }
      return
    }
    guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
      Issue.record(
        "no reference \(file.lastPathComponent): record it with CONSOLE_SNAPSHOTS=record",
        sourceLocation: sourceLocation)
      return
    }
    guard expected != actual else { return }
    let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
    let firstDifference = zip(expectedLines, actualLines).enumerated().first {
      $0.element.0 != $0.element.1
    }
    let line = firstDifference?.offset ?? min(expectedLines.count, actualLines.count)
    Issue.record(
      """
      \(name) differs from its reference at transcript line \(line + 1):
        expected: \(line < expectedLines.count ? String(expectedLines[line]) : "<end>")
        actual:   \(line < actualLines.count ? String(actualLines[line]) : "<end>")
      """, sourceLocation: sourceLocation)
  }
}
