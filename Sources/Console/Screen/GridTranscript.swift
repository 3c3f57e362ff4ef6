/// A grid written out as text for snapshot files and debugging: the
/// characters, then one letter per cell naming its style, then the legend
/// of those letters (colours as `#rrggbb`, attributes by name).
///
/// The letter `.` is the grid's most common style; the others are given
/// in order of first appearance, so a transcript does not depend on how
/// styles happen to hash.
public struct GridTranscript: Hashable, Sendable {
  /// The full text.
  public let text: String

  private static let letters = Array(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@$%&*+=~^")

  /// Writes out `grid`.
  public init(_ grid: ScreenGrid) {
    var lines = ["size \(grid.width)x\(grid.height)", "--- text"]
    for y in 0..<grid.height {
      var line = ""
      for x in 0..<grid.width where !grid[x, y].isContinuation {
        line.append(grid[x, y].character ?? " ")
      }
      while line.last == " " { line.removeLast() }
      lines.append(line)
    }
    var counts: [CellStyle: Int] = [:]
    for cell in grid.cells { counts[cell.style, default: 0] += 1 }
    let common = grid.cells.map(\.style).max { counts[$0, default: 0] < counts[$1, default: 0] }
    var names: [CellStyle: Character] = [:]
    var legend: [String] = []
    var next = 0
    if let common {
      names[common] = "."
      legend.append(". " + Self.describe(common))
    }
    lines.append("--- style")
    for y in 0..<grid.height {
      var line = ""
      for x in 0..<grid.width {
        let style = grid[x, y].style
        if names[style] == nil {
          let letter = next < Self.letters.count ? Self.letters[next] : "?"
          next += 1
          names[style] = letter
          legend.append("\(letter) " + Self.describe(style))
        }
        line.append(names[style] ?? "?")
      }
      lines.append(line)
    }
    lines.append("--- legend")
    lines.append(contentsOf: legend)
    text = lines.joined(separator: "\n") + "\n"
  }

  /// Only the characters, one line per row, trailing spaces removed.
  public static func characters(of grid: ScreenGrid) -> [String] {
    (0..<grid.height).map { y in
      var line = ""
      for x in 0..<grid.width where !grid[x, y].isContinuation {
        line.append(grid[x, y].character ?? " ")
      }
      while line.last == " " { line.removeLast() }
      return line
    }
  }

  private static func describe(_ style: CellStyle) -> String {
    var parts = [
      "fg=" + (style.foreground?.hex ?? "default"), "bg=" + (style.background?.hex ?? "default"),
    ]
    let names: [(TextAttributes, String)] = [
      (.bold, "bold"), (.dim, "dim"), (.reverse, "reverse"), (.underline, "underline"),
    ]
    parts += names.filter { style.attributes.contains($0.0) }.map(\.1)
    return parts.joined(separator: " ")
  }
}
