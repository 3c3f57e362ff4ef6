import Console
import Foundation
import Testing

/// Theme folders and files from places others can write: ignored or
/// refused for root, and nothing of a file that is not a theme is shown.
@Suite struct ThemeTrustTests {
  static let isRoot = geteuid() == 0
  /// A secret line as `/etc/shadow` holds them.
  static let secret = "root:$6$xdpbatchSecretSalt$hash:19000:0:99999:7:::"

  /// A fresh folder under the temporary directory (root's, 0755).
  static func folder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-trust-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    return folder
  }

  static let redTheme = "theme[main_bg]=\"#ff0000\"\n"

  @Test(.enabled(if: isRoot, "ownership checks apply to root; run as root"))
  func worldWritableFolderIsIgnoredForRoot() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    try Self.redTheme.write(
      to: folder.appendingPathComponent("default.theme"), atomically: true, encoding: .utf8)
    #expect(
      ThemeCatalog(directories: [folder.path]).theme(named: "default")?[.mainBackground]
        == RGBColor(red: 255, green: 0, blue: 0), "a trusted folder's theme is read")

    chmod(folder.path, 0o777)
    let catalog = ThemeCatalog(directories: [folder.path])
    #expect(
      catalog.theme(named: "default") == .standard,
      "a world-writable folder's theme replaced the default")
    guard case .untrusted(let path, let reason)? = catalog.problems.first else {
      Issue.record("expected the folder to be reported, got \(catalog.problems)")
      return
    }
    #expect(path == folder.path)
    #expect(reason.contains("others can write"))
  }

  @Test(.enabled(if: isRoot, "ownership checks apply to root; run as root"))
  func filesOthersCanWriteOrOwnAreIgnoredForRoot() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let writable = folder.appendingPathComponent("writable.theme")
    let foreign = folder.appendingPathComponent("foreign.theme")
    for file in [writable, foreign] {
      try Self.redTheme.write(to: file, atomically: true, encoding: .utf8)
    }
    chmod(writable.path, 0o666)
    chown(foreign.path, 65534, 65534)
    let catalog = ThemeCatalog(directories: [folder.path])
    #expect(!catalog.names.contains("writable"))
    #expect(!catalog.names.contains("foreign"))
    #expect(catalog.problems.count == 2)
    #expect(catalog.problems.allSatisfy { if case .untrusted = $0 { true } else { false } })
  }

  @Test(.enabled(if: isRoot, "needs root to plant another user's symlink"))
  func symlinkAnotherUserPlantedIsNotFollowed() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    // A file the planting user cannot read (root's, 0600), like /etc/shadow.
    let secret = folder.appendingPathComponent("shadow")
    try (Self.secret + "\n").write(to: secret, atomically: true, encoding: .utf8)
    chmod(secret.path, 0o600)
    let themes = folder.appendingPathComponent("themes")
    try FileManager.default.createDirectory(at: themes, withIntermediateDirectories: false)
    let link = themes.appendingPathComponent("default.theme")
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: secret)
    #expect(lchown(link.path, 65534, 65534) == 0)

    var catalog = ThemeCatalog(directories: [themes.path])
    #expect(catalog.theme(named: "default") == .standard)
    let problem = try #require(catalog.problems.first)
    guard case .untrusted(_, let reason) = problem else {
      Issue.record("expected the symlink to be refused, got \(problem)")
      return
    }
    #expect(reason.contains("symlink"))
    let shown = catalog.problems.map(\.description).joined(separator: "\n")
    #expect(!shown.contains("xdpbatchSecretSalt"))

    // Named on the command line, it is read but still not shown.
    let (theme, named) = catalog.initialTheme(requested: secret.path, environment: [:])
    #expect(theme == .standard)
    let message = try #require(named).description
    #expect(message.contains("line 1"))
    #expect(!message.contains("xdpbatchSecretSalt"), "the file's content is shown: \(message)")
  }

  @Test func nonRegularAndOversizedFilesAreNotRead() throws {
    let folder = try Self.folder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let big = folder.appendingPathComponent("big.theme")
    try String(repeating: "# padding\n", count: 10_000).write(
      to: big, atomically: true, encoding: .utf8)
    guard case .failure(.untrusted(_, let reason)) = ThemeTrust().read(big.path, inFolder: true)
    else {
      Issue.record("an oversized file was read")
      return
    }
    #expect(reason.contains("larger"))
    guard case .failure(.untrusted) = ThemeTrust().read("/dev/zero", inFolder: false) else {
      Issue.record("/dev/zero was read as a theme")
      return
    }
  }

  @Test func executableFolderComesFromProcSelfExe() throws {
    let exe = try #require(ThemeTrust.executablePath())
    let expected =
      URL(fileURLWithPath: exe).deletingLastPathComponent().deletingLastPathComponent().path
      + "/share/xdpbatch/themes"
    #expect(ThemeCatalog.standardDirectories(environment: [:]) == [expected])
  }
}
