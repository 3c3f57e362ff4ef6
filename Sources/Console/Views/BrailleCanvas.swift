/// A plotting surface of Braille dots: each cell holds 2×4 dots, so a
/// plot gets twice the columns and four times the rows of its cells. Each
/// cell also remembers which series set a dot in it last (its colour).
struct BrailleCanvas {
  /// Cells across.
  let columns: Int
  /// Cells down.
  let rows: Int
  private var dots: [UInt8]
  private var owners: [Int?]

  /// Dots across.
  var dotWidth: Int { columns * 2 }
  /// Dots down.
  var dotHeight: Int { rows * 4 }

  init(columns: Int, rows: Int) {
    self.columns = max(0, columns)
    self.rows = max(0, rows)
    dots = Array(repeating: 0, count: self.columns * self.rows)
    owners = Array(repeating: nil, count: self.columns * self.rows)
  }

  /// The bit of dot (`dx`, `dy`) inside a cell, in Unicode's Braille order.
  private static let bits: [[UInt8]] = [
    [0x01, 0x02, 0x04, 0x40],
    [0x08, 0x10, 0x20, 0x80],
  ]

  /// Sets the dot at (`x`, `y`), `y` counted from the bottom, for `series`.
  mutating func set(x: Int, y: Int, series: Int) {
    guard x >= 0, y >= 0, x < dotWidth, y < dotHeight else { return }
    let row = dotHeight - 1 - y
    let index = (row / 4) * columns + x / 2
    dots[index] |= Self.bits[x % 2][row % 4]
    owners[index] = series
  }

  /// Sets the dots from `from` to `to` in column `x` (a vertical segment).
  mutating func setColumn(x: Int, from: Int, to: Int, series: Int) {
    for y in min(from, to)...max(from, to) { set(x: x, y: y, series: series) }
  }

  /// The character of cell (`column`, `row`), `nil` when it has no dot.
  func character(column: Int, row: Int) -> Character? {
    let pattern = dots[row * columns + column]
    guard pattern != 0, let scalar = Unicode.Scalar(0x2800 + UInt32(pattern)) else { return nil }
    return Character(scalar)
  }

  /// The series that last drew in cell (`column`, `row`).
  func owner(column: Int, row: Int) -> Int? { owners[row * columns + column] }
}
