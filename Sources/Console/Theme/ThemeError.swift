/// Why a theme could not be used. The console reports it on its status
/// line and carries on with the default theme.
public enum ThemeError: Error, Hashable, Sendable, CustomStringConvertible {
  /// A line of a theme file is not `theme[KEY]="#RRGGBB"`: the line number
  /// and what was expected, never the line itself (the file may not be a
  /// theme at all).
  case malformedLine(file: String, line: Int, expected: String)
  /// The theme file could not be read.
  case unreadable(path: String, reason: String)
  /// A theme folder or file ``ThemeTrust`` does not read (others can write
  /// it, another user owns it, a symlink another user made).
  case untrusted(path: String, reason: String)
  /// No theme has this name.
  case unknownTheme(name: String, available: [String])

  /// A message that names the file and line, or the themes to choose from.
  public var description: String {
    switch self {
    case .malformedLine(let file, let line, let expected):
      "theme \(file), line \(line): expected \(expected)"
    case .untrusted(let path, let reason):
      "theme \(path) ignored: \(reason)"
    case .unreadable(let path, let reason):
      "cannot read theme \(path): \(reason)"
    case .unknownTheme(let name, let available):
      "no theme named '\(name)' (available: \(available.joined(separator: ", ")))"
    }
  }
}
