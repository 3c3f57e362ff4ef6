/// Reads theme files, btop's format: one `theme[KEY]="#RRGGBB"` a line,
/// `#` comments and blank lines allowed, `""` for the terminal default.
/// Keys a file leaves out keep the base theme's colour.
public enum ThemeFile {
  /// Parses `text`; `file` names it in errors. A key the file leaves out
  /// keeps its colour from `base`.
  public static func parse(_ text: String, name file: String, base: Theme?) throws(ThemeError)
    -> Theme
  {
    var colors = base?.colors ?? [:]
    var lineNumber = 0
    for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
      lineNumber += 1
      let line = rawLine.trimmingSpaces()
      if line.isEmpty || line.hasPrefix("#") { continue }
      // Errors say what was expected, never what the line holds: the file
      // may be something else entirely (a symlink to a secret).
      func malformed(_ expected: String) -> ThemeError {
        .malformedLine(file: file, line: lineNumber, expected: expected)
      }
      guard line.hasPrefix("theme["), let close = line.firstIndex(of: "]") else {
        throw malformed("theme[KEY]=\"#RRGGBB\"")
      }
      let keyName = line[line.index(line.startIndex, offsetBy: 6)..<close]
      guard let key = Theme.Key(rawValue: String(keyName)) else {
        let keys = Theme.Key.allCases.map(\.rawValue).joined(separator: ", ")
        throw malformed("a known key (\(keys))")
      }
      let rest = line[line.index(after: close)...].trimmingSpaces()
      guard rest.hasPrefix("=") else { throw malformed("'=' after theme[\(key.rawValue)]") }
      let value = rest.dropFirst().trimmingSpaces()
      guard value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") else {
        throw malformed("the value in double quotes")
      }
      let colorText = String(value.dropFirst().dropLast())
      if colorText.isEmpty {
        colors[key] = nil
      } else if let color = RGBColor(hex: colorText) {
        colors[key] = color
      } else {
        throw malformed("a colour of the form #RRGGBB, or \"\"")
      }
    }
    let name = file.split(separator: "/").last.map { String($0) } ?? file
    return Theme(
      name: name.hasSuffix(".theme") ? String(name.dropLast(6)) : name, colors: colors)
  }

  /// `theme` written back in the file format, keys in declaration order.
  public static func text(of theme: Theme) -> String {
    Theme.Key.allCases.map { key in
      "theme[\(key.rawValue)]=\"\(theme[key]?.hex ?? "")\""
    }.joined(separator: "\n") + "\n"
  }
}

extension StringProtocol {
  /// Without leading and trailing spaces, tabs and carriage returns.
  func trimmingSpaces() -> SubSequence {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    guard let first = firstIndex(where: { !blank($0) }),
      let last = lastIndex(where: { !blank($0) })
    else { return self[endIndex..<endIndex] }
    return self[first...last]
  }
}
