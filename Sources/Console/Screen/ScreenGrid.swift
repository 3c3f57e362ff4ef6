/// The screen as an in-memory grid of cells: every view draws here, and
/// a terminal backend only copies the grid out. Tests read it back as
/// text (``GridTranscript``), so no screen needs a terminal to be tested.
public struct ScreenGrid: Hashable, Sendable {
  /// Columns.
  public let width: Int
  /// Rows.
  public let height: Int
  /// Cells, row by row.
  public private(set) var cells: [Cell]

  /// A grid of blank cells in `style`.
  public init(width: Int, height: Int, style: CellStyle = .plain) {
    self.width = max(0, width)
    self.height = max(0, height)
    cells = Array(repeating: Cell(style: style), count: self.width * self.height)
  }

  /// The whole grid as a rectangle.
  public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

  /// The cell at column `x`, row `y`; a blank cell outside the grid.
  public subscript(x: Int, y: Int) -> Cell {
    guard contains(x: x, y: y) else { return Cell() }
    return cells[y * width + x]
  }

  /// Whether (`x`, `y`) is on the grid.
  public func contains(x: Int, y: Int) -> Bool {
    x >= 0 && y >= 0 && x < width && y < height
  }

  /// Writes `text` from column `x` of row `y`, clipped to `clip` (the
  /// whole grid by default). Returns the number of columns written.
  @discardableResult
  public mutating func write(
    _ text: String, x: Int, y: Int, style: CellStyle, clip: Rect? = nil
  ) -> Int {
    let area = (clip ?? bounds).intersection(bounds)
    guard y >= area.y, y < area.maxY else { return 0 }
    var column = x
    for character in text {
      let columns = DisplayWidth.of(character)
      guard columns > 0 else { continue }
      if column + columns > area.maxX { break }
      if column >= area.x {
        put(character, columns: columns, x: column, y: y, style: style)
      }
      column += columns
    }
    return max(0, column - x)
  }

  /// Fills `rect` with `character` in `style`.
  public mutating func fill(_ rect: Rect, with character: Character = " ", style: CellStyle) {
    let area = rect.intersection(bounds)
    for y in area.y..<area.maxY {
      for x in area.x..<area.maxX {
        put(character, columns: 1, x: x, y: y, style: style)
      }
    }
  }

  /// Changes the style of the cells in `rect`, keeping their characters.
  public mutating func restyle(_ rect: Rect, _ change: (inout CellStyle) -> Void) {
    let area = rect.intersection(bounds)
    for y in area.y..<area.maxY {
      for x in area.x..<area.maxX {
        change(&cells[y * width + x].style)
      }
    }
  }

  /// Stores one character, keeping wide characters whole: overwriting
  /// either half of a wide character blanks the other half.
  private mutating func put(_ character: Character, columns: Int, x: Int, y: Int, style: CellStyle)
  {
    let index = y * width + x
    if cells[index].isContinuation, x > 0 {
      cells[index - 1].character = " "
    }
    let covered = columns == 2 ? index + 1 : index
    if covered + 1 < (y + 1) * width, cells[covered + 1].isContinuation {
      cells[covered + 1].character = " "
    }
    cells[index] = Cell(character, style: style)
    if columns == 2 {
      cells[index + 1] = .continuation(style: style)
    }
  }
}
