/// The cells that differ between two frames of the same size, as runs of
/// consecutive columns: what a backend must redraw, and nothing else.
public struct GridChanges: Hashable, Sendable {
  /// Consecutive changed cells on one row.
  public struct Run: Hashable, Sendable {
    /// Row.
    public var y: Int
    /// First column.
    public var x: Int
    /// The new cells, from column `x` on.
    public var cells: [Cell]
  }

  /// The runs, top to bottom, left to right.
  public var runs: [Run]

  /// The changes from `old` to `new`; every cell of `new` when `old` is
  /// `nil` or of another size.
  public init(from old: ScreenGrid?, to new: ScreenGrid) {
    runs = []
    let comparable = old.map { $0.width == new.width && $0.height == new.height } ?? false
    for y in 0..<new.height {
      var x = 0
      while x < new.width {
        guard !comparable || old?[x, y] != new[x, y] else {
          x += 1
          continue
        }
        var run = Run(y: y, x: x, cells: [])
        while x < new.width, !comparable || old?[x, y] != new[x, y] {
          run.cells.append(new[x, y])
          x += 1
        }
        // A wide character's head must be redrawn with its continuation.
        if run.cells.first?.isContinuation == true, run.x > 0 {
          run.x -= 1
          run.cells.insert(new[run.x, y], at: 0)
        }
        runs.append(run)
      }
    }
  }

  /// Changed cells in all.
  public var cellCount: Int { runs.reduce(0) { $0 + $1.cells.count } }
}
