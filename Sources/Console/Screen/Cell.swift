/// One character cell of the screen.
///
/// A wide character (CJK, most emoji) occupies two cells: the first holds
/// the character, the second is a continuation that a backend skips.
public struct Cell: Hashable, Sendable {
  /// The character shown; one space for an empty cell, empty for the
  /// continuation half of a wide character.
  public var character: Character?
  /// Colours and attributes.
  public var style: CellStyle

  /// A cell showing `character`.
  public init(_ character: Character = " ", style: CellStyle = .plain) {
    self.character = character
    self.style = style
  }

  /// The right half of a wide character.
  public static func continuation(style: CellStyle) -> Cell {
    var cell = Cell(style: style)
    cell.character = nil
    return cell
  }

  /// Whether this is the right half of a wide character.
  public var isContinuation: Bool { character == nil }
}
