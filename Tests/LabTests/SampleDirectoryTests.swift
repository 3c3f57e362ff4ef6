import Foundation
import Testing

@testable import Lab

/// The one rule that finds the bundled samples: a checkout's
/// `build/samples` in the working directory, above the executable, or an
/// installation's `share/xdpbatch/samples`.
@Suite struct SampleDirectoryTests {
  /// A scratch tree: `root/checkout/build/samples/a.o`,
  /// `root/checkout/.build/x86_64/debug/xdpbatch`, `root/prefix/bin/xdpbatch`,
  /// `root/prefix/share/xdpbatch/samples/b.o`, `root/elsewhere`.
  struct Tree {
    let root: URL
    init() throws {
      root = FileManager.default.temporaryDirectory.appendingPathComponent(
        "xbt-samples-\(UInt32.random(in: 0..<UInt32.max))")
      let manager = FileManager.default
      for folder in [
        "checkout/build/samples", "checkout/.build/x86_64/debug", "prefix/bin",
        "prefix/share/xdpbatch/samples", "elsewhere",
      ] {
        try manager.createDirectory(
          at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
      }
      for file in [
        "checkout/build/samples/a.o", "checkout/.build/x86_64/debug/xdpbatch",
        "prefix/bin/xdpbatch",
        "prefix/share/xdpbatch/samples/b.o",
      ] {
        try Data().write(to: root.appendingPathComponent(file))
      }
    }
    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    func remove() { try? FileManager.default.removeItem(at: root) }
  }

  @Test func theWorkingDirectoryComesFirst() throws {
    let tree = try Tree()
    defer { tree.remove() }
    let found = SampleDirectory.find(
      executable: tree.path("prefix/bin/xdpbatch"), workingDirectory: tree.path("checkout"))
    #expect(found?.path == tree.path("checkout/build/samples"))
    #expect(found?.objects == [tree.path("checkout/build/samples/a.o")])
  }

  @Test func theBuildTreeOfTheExecutableIsFound() throws {
    let tree = try Tree()
    defer { tree.remove() }
    let found = SampleDirectory.find(
      executable: tree.path("checkout/.build/x86_64/debug/xdpbatch"),
      workingDirectory: tree.path("elsewhere"))
    #expect(found?.path == tree.path("checkout/build/samples"))
  }

  @Test func anInstallationKeepsThemInShare() throws {
    let tree = try Tree()
    defer { tree.remove() }
    let found = SampleDirectory.find(
      executable: tree.path("prefix/bin/xdpbatch"), workingDirectory: tree.path("elsewhere"))
    #expect(found?.path == tree.path("prefix/share/xdpbatch/samples"))
    #expect(found?.object("b.o") == tree.path("prefix/share/xdpbatch/samples/b.o"))
  }

  @Test func aFolderWithoutObjectsIsPassedOver() throws {
    let tree = try Tree()
    defer { tree.remove() }
    try FileManager.default.removeItem(atPath: tree.path("prefix/share/xdpbatch/samples/b.o"))
    #expect(
      SampleDirectory.find(
        executable: tree.path("prefix/bin/xdpbatch"), workingDirectory: tree.path("elsewhere"))
        == nil)
    let looked = SampleDirectory.candidates(
      executable: tree.path("prefix/bin/xdpbatch"), workingDirectory: tree.path("elsewhere"))
    #expect(looked.first == tree.path("elsewhere/build/samples"))
    #expect(looked.last == tree.path("prefix/share/xdpbatch/samples"))
  }
}
