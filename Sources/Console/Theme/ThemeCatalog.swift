import Foundation

/// The themes the console can cycle through: the built-in ones, then any
/// `NAME.theme` file in the theme folders (a file named like a built-in
/// theme replaces it). Files that do not parse, and folders or files
/// ``ThemeTrust`` refuses, are kept as ``problems`` and left out.
public struct ThemeCatalog: Sendable {
  /// The usable themes, in cycling order.
  public private(set) var themes: [Theme]
  /// Theme files that could not be used, with why.
  public private(set) var problems: [ThemeError]

  /// The built-in themes plus those in `directories` that `trust` allows.
  public init(directories: [String] = [], trust: ThemeTrust = ThemeTrust()) {
    themes = BuiltinThemes.all.compactMap { entry in
      try? ThemeFile.parse(entry.text, name: entry.name, base: Theme.standard)
    }
    problems = []
    for requested in directories {
      let directory: String
      switch trust.directory(requested) {
      case nil: continue
      case .failure(let problem)?:
        problems.append(problem)
        continue
      case .success(let real)?: directory = real
      }
      let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
      for file in names.sorted() where file.hasSuffix(".theme") {
        switch Self.load(path: directory + "/" + file, trust: trust, inFolder: true) {
        case .success(let theme): add(theme)
        case .failure(let problem): problems.append(problem)
        }
      }
    }
  }

  /// The folders searched for theme files: `$XDPBATCH_THEMES`,
  /// `~/.config/xdpbatch/themes`, and `share/xdpbatch/themes` beside the
  /// executable's folder (the executable found through `/proc/self/exe`,
  /// not `argv[0]`).
  public static func standardDirectories(environment: [String: String]) -> [String] {
    var directories: [String] = []
    if let custom = environment["XDPBATCH_THEMES"], !custom.isEmpty { directories.append(custom) }
    if let home = environment["HOME"], !home.isEmpty {
      directories.append(home + "/.config/xdpbatch/themes")
    }
    if let path = ThemeTrust.executablePath() {
      let executable = URL(fileURLWithPath: path)
      directories.append(
        executable.deletingLastPathComponent().deletingLastPathComponent().path
          + "/share/xdpbatch/themes")
    }
    return directories
  }

  /// The theme called `name`.
  public func theme(named name: String) -> Theme? {
    themes.first { $0.name == name }
  }

  /// The names, in cycling order.
  public var names: [String] { themes.map(\.name) }

  /// The theme to start with: `requested` (a name, or a path to a
  /// `.theme` file) when given, else mono when `NO_COLOR` is set (an
  /// explicit choice overrides it, as no-color.org asks), else the
  /// default. A theme that cannot be used falls back to the default,
  /// with the reason.
  public mutating func initialTheme(requested: String?, environment: [String: String]) -> (
    Theme, ThemeError?
  ) {
    guard let requested, !requested.isEmpty else {
      let noColor = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
      return (noColor ? theme(named: "mono") ?? .standard : .standard, nil)
    }
    if let theme = theme(named: requested) { return (theme, nil) }
    guard requested.contains("/") || requested.hasSuffix(".theme") else {
      return (.standard, .unknownTheme(name: requested, available: names))
    }
    switch Self.load(path: requested) {
    case .success(let theme):
      add(theme)
      return (theme, nil)
    case .failure(let problem):
      return (.standard, problem)
    }
  }

  /// Reads and parses one theme file, as `trust` allows (`inFolder`: found
  /// in a theme folder rather than named by the user).
  public static func load(path: String, trust: ThemeTrust = ThemeTrust(), inFolder: Bool = false)
    -> Result<Theme, ThemeError>
  {
    let text: String
    switch trust.read(path, inFolder: inFolder) {
    case .success(let contents): text = contents
    case .failure(let problem): return .failure(problem)
    }
    do throws(ThemeError) {
      return .success(try ThemeFile.parse(text, name: path, base: .standard))
    } catch {
      return .failure(error)
    }
  }

  private mutating func add(_ theme: Theme) {
    if let index = themes.firstIndex(where: { $0.name == theme.name }) {
      themes[index] = theme
    } else {
      themes.append(theme)
    }
  }
}
