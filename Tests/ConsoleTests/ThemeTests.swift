import Console
import Foundation
import Testing

/// Theme files: parsing, errors with line numbers, the shipped files, the
/// choice at start-up, and colours mapped onto what a terminal has.
@Suite struct ThemeTests {
  static var themesFolder: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Themes")
  }

  @Test func parsesKeysCommentsBlanksAndTerminalDefaults() throws {
    let text = """
      # a comment

        theme[main_bg]  =  "#0A0b0C"
      theme[action_drop]="#ff8000"\r
      theme[main_fg]=""
      """
    let theme = try ThemeFile.parse(text, name: "mine.theme", base: .standard)
    #expect(theme.name == "mine")
    #expect(theme[.mainBackground] == RGBColor(red: 10, green: 11, blue: 12))
    #expect(theme[.drop] == RGBColor(red: 255, green: 128, blue: 0))
    #expect(theme[.mainForeground] == nil)
    #expect(theme[.pass] == Theme.standard[.pass])
  }

  @Test(arguments: [
    ("theme[main_bg]=\"#12345\"", "#RRGGBB"),
    ("theme[main_bg]=#123456", "double quotes"),
    ("theme[nonsense]=\"#123456\"", "a known key"),
    ("main_bg=\"#123456\"", "theme[KEY]"),
    ("theme[main_bg] \"#123456\"", "'='"),
    ("theme[main_bg]=\"#12345g\"", "#RRGGBB"),
  ])
  func malformedLinesAreReportedWithTheirNumber(line: String, reason: String) {
    let text = "# header\ntheme[main_fg]=\"#ffffff\"\n\n" + line + "\ntheme[title]=\"#000000\"\n"
    do {
      _ = try ThemeFile.parse(text, name: "broken.theme", base: .standard)
      Issue.record("parsed a malformed line: \(line)")
    } catch {
      guard case .malformedLine(let file, let number, let expected) = error else {
        Issue.record("unexpected error \(error)")
        return
      }
      #expect(file == "broken.theme")
      #expect(number == 4)
      #expect(expected.contains(reason))
      #expect(error.description.contains("line 4"))
      #expect(!error.description.contains("123456"), "the line's content is shown")
    }
  }

  @Test func malformedFileFallsBackToTheDefaultWithTheReason() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-themes-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let bad = folder.appendingPathComponent("bad.theme")
    try "theme[main_bg]=\"#000000\"\ntheme[main_fg]=\"white\"\n".write(
      to: bad, atomically: true, encoding: .utf8)
    let good = folder.appendingPathComponent("ocean.theme")
    try "theme[main_bg]=\"#001830\"\n".write(to: good, atomically: true, encoding: .utf8)

    var catalog = ThemeCatalog(directories: [folder.path])
    #expect(catalog.names.contains("ocean"))
    #expect(!catalog.names.contains("bad"))
    #expect(catalog.problems.count == 1)
    let (theme, problem) = catalog.initialTheme(requested: bad.path, environment: [:])
    #expect(theme == .standard)
    guard case .malformedLine(_, let line, _)? = problem else {
      Issue.record("expected a malformed-line error, got \(String(describing: problem))")
      return
    }
    #expect(line == 2)
  }

  @Test func shippedThemeFilesMatchTheBuiltInOnes() throws {
    let catalog = ThemeCatalog()
    let files = try FileManager.default.contentsOfDirectory(atPath: Self.themesFolder.path)
      .filter { $0.hasSuffix(".theme") }
    #expect(Set(files.map { String($0.dropLast(6)) }) == Set(catalog.names))
    for file in files {
      let text = try String(
        contentsOf: Self.themesFolder.appendingPathComponent(file), encoding: .utf8)
      let parsed = try ThemeFile.parse(text, name: file, base: nil)
      #expect(catalog.theme(named: parsed.name) == parsed, "\(file) differs from the built-in copy")
    }
  }

  @Test func builtInThemesAreCompleteOrDeliberatelyColourless() throws {
    for theme in ThemeCatalog().themes {
      if theme.name == "mono" {
        #expect(theme.isMonochrome)
      } else {
        #expect(theme.colors.count == Theme.Key.allCases.count, "\(theme.name) leaves keys out")
      }
    }
    let blind = try #require(ThemeCatalog().theme(named: "colorblind"))
    let okabeIto = ["#d55e00", "#e69f00", "#009e73", "#56b4e9", "#cc79a7"]
    let actions: [Theme.Key] = [.aborted, .drop, .pass, .tx, .redirect]
    #expect(actions.map { blind[$0]?.hex } == okabeIto)
  }

  @Test func startupChoiceHonoursNoColourUnlessAThemeIsNamed() {
    var catalog = ThemeCatalog()
    #expect(catalog.initialTheme(requested: nil, environment: [:]).0.name == "default")
    #expect(catalog.initialTheme(requested: nil, environment: ["NO_COLOR": "1"]).0.name == "mono")
    #expect(catalog.initialTheme(requested: nil, environment: ["NO_COLOR": ""]).0.name == "default")
    #expect(
      catalog.initialTheme(requested: "light", environment: ["NO_COLOR": "1"]).0.name == "light")
    let (fallback, problem) = catalog.initialTheme(requested: "nosuch", environment: [:])
    #expect(fallback.name == "default")
    #expect(problem == .unknownTheme(name: "nosuch", available: catalog.names))
  }

  @Test func hexColoursRoundTrip() {
    #expect(RGBColor(hex: "#FfA500")?.hex == "#ffa500")
    #expect(RGBColor(hex: "ffa500") == nil)
    #expect(RGBColor(hex: "#ffa5") == nil)
  }

  @Test func coloursMapToTheNearestPaletteEntry() {
    let xterm = TerminalPalette.xterm256
    // Every cube and grey entry maps back onto itself.
    for index in 16...255 {
      let color = xterm.color(at: index)
      #expect(xterm.color(at: xterm.index(for: color)) == color, "entry \(index)")
    }
    // A colour between entries goes to an entry no farther than any other.
    let orange = RGBColor(red: 255, green: 140, blue: 66)
    let chosen = xterm.color(at: xterm.index(for: orange))
    func distance(_ a: RGBColor, _ b: RGBColor) -> Int {
      let d = [Int(a.red) - Int(b.red), Int(a.green) - Int(b.green), Int(a.blue) - Int(b.blue)]
      return 3 * d[0] * d[0] + 4 * d[1] * d[1] + 2 * d[2] * d[2]
    }
    #expect(
      (16...255).allSatisfy { distance(xterm.color(at: $0), orange) >= distance(chosen, orange) })

    let ansi = TerminalPalette.ansi8
    #expect(ansi.index(for: RGBColor(red: 20, green: 22, blue: 28)) == 0)
    #expect(ansi.index(for: RGBColor(red: 240, green: 240, blue: 240)) == 7)
    #expect(ansi.index(for: RGBColor(red: 200, green: 30, blue: 30)) == 1)
    #expect(ansi.index(for: RGBColor(red: 40, green: 200, blue: 60)) == 2)
    // Dark grey on near-black would be black on black with 8 colours.
    let border = RGBColor(red: 0x3f, green: 0x46, blue: 0x54)
    let background = RGBColor(red: 0x1c, green: 0x1f, blue: 0x26)
    #expect(ansi.index(for: border) == ansi.index(for: background))
    let (front, back) = ansi.indices(foreground: border, background: background)
    #expect(front != back)
    #expect(ansi.indices(foreground: nil, background: background) == (nil, 0))
    #expect(TerminalPalette(colors: 256) == .xterm256)
    #expect(TerminalPalette(colors: 8) == .ansi8)
    #expect(TerminalPalette(colors: 2) == nil)
  }
}
