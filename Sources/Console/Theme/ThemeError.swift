/// Why a theme could not be used. The console reports it on its status
/// line and carries on with the default theme.
public enum ThemeError: Error, Hashable, Sendable, CustomStringConvertible {
  /// A line of a theme file is not `theme[KEY]="#RRGGBB"`.
  case malformedLine(file: String, line: Int, text: String, reason: String)
  /// The theme file could not be read.
  case unreadable(path: String, reason: String)
  /// No theme has this name.
  case unknownTheme(name: String, available: [String])

  /// A message that names the file and line, or the themes to choose from.
  public var description: String {
    switch self {
    case .malformedLine(let file, let line, let text, let reason):
      "theme \(file), line \(line): \(reason): \(text)"
    case .unreadable(let path, let reason):
      "cannot read theme \(path): \(reason)"
    case .unknownTheme(let name, let available):
      "no theme named '\(name)' (available: \(available.joined(separator: ", ")))"
    }
  }
}
