/// How many terminal columns text takes, without asking the C library
/// (whose `wcwidth` depends on the process locale and so differs between
/// a test run and a terminal).
///
/// East Asian wide and fullwidth characters and emoji shown as emoji take
/// two columns; control characters and lone combining marks take none;
/// everything else, box drawing, blocks and Braille included, takes one.
enum DisplayWidth {
  /// Ranges of scalars shown two columns wide.
  private static let wideRanges: [ClosedRange<UInt32>] = [
    0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF,
    0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF,
    0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF,
    0x20000...0x2FFFD, 0x30000...0x3FFFD,
  ]

  /// Columns `character` takes: 0, 1 or 2.
  static func of(_ character: Character) -> Int {
    guard let first = character.unicodeScalars.first else { return 0 }
    let value = first.value
    if value < 0x20 || (0x7F..<0xA0).contains(value) { return 0 }
    if value < 0x300 { return 1 }
    if first.properties.generalCategory == .nonspacingMark
      || first.properties.generalCategory == .enclosingMark
    {
      return 0
    }
    if wideRanges.contains(where: { $0.contains(value) }) { return 2 }
    if first.properties.isEmojiPresentation { return 2 }
    if character.unicodeScalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
    return 1
  }

  /// Columns `text` takes.
  static func of(_ text: String) -> Int {
    text.reduce(0) { $0 + of($1) }
  }
}

extension String {
  /// The display width in terminal columns.
  var displayWidth: Int { DisplayWidth.of(self) }

  /// The text cut to at most `width` columns, ending in `…` when cut.
  func truncated(toWidth width: Int) -> String {
    guard width > 0 else { return "" }
    guard displayWidth > width else { return self }
    var result = ""
    var used = 0
    for character in self {
      let columns = DisplayWidth.of(character)
      if used + columns > width - 1 { break }
      result.append(character)
      used += columns
    }
    return result + "…"
  }

  /// The text padded with spaces (or cut) to exactly `width` columns.
  func padded(toWidth width: Int, alignRight: Bool = false) -> String {
    let text = truncated(toWidth: width)
    let padding = String(repeating: " ", count: max(0, width - text.displayWidth))
    return alignRight ? padding + text : text + padding
  }
}

extension String {
  /// The text in pieces of at most `width` columns, broken after a space
  /// where one is in the piece, else at the width; nothing is lost. An
  /// empty text is one empty piece.
  func wrapped(toWidth width: Int) -> [String] {
    let width = max(1, width)
    var pieces: [String] = []
    var rest = Substring(self)
    while rest.displayWidthOfSubstring > width {
      var used = 0
      var cut = rest.startIndex
      var lastSpace: String.Index?
      while cut < rest.endIndex {
        let columns = DisplayWidth.of(rest[cut])
        if used + columns > width { break }
        used += columns
        if rest[cut] == " " { lastSpace = rest.index(after: cut) }
        cut = rest.index(after: cut)
      }
      if cut == rest.startIndex { cut = rest.index(after: cut) }
      if let lastSpace, lastSpace < cut, lastSpace > rest.startIndex { cut = lastSpace }
      pieces.append(String(rest[..<cut]))
      rest = rest[cut...]
    }
    pieces.append(String(rest))
    return pieces
  }
}

extension Substring {
  fileprivate var displayWidthOfSubstring: Int { reduce(0) { $0 + DisplayWidth.of($1) } }
}
