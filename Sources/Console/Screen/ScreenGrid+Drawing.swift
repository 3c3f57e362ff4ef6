/// Box drawing and aligned text: the few shapes every pane uses.
extension ScreenGrid {
  /// Draws a rounded border around `rect`, with `title` set into the top
  /// edge (btop's look) and an optional `note` at the top right.
  public mutating func box(
    _ rect: Rect, style: CellStyle, title: String = "", titleStyle: CellStyle? = nil,
    note: String = "", noteStyle: CellStyle? = nil
  ) {
    guard rect.width >= 2, rect.height >= 2 else { return }
    let inner = rect.width - 2
    let edge = String(repeating: "─", count: inner)
    write("╭" + edge + "╮", x: rect.x, y: rect.y, style: style)
    write("╰" + edge + "╯", x: rect.x, y: rect.maxY - 1, style: style)
    for row in (rect.y + 1)..<(rect.maxY - 1) {
      write("│", x: rect.x, y: row, style: style)
      write("│", x: rect.maxX - 1, y: row, style: style)
    }
    var used = 0
    if !title.isEmpty, inner > 4 {
      let text = " " + title.truncated(toWidth: inner - 4) + " "
      used = write(text, x: rect.x + 2, y: rect.y, style: titleStyle ?? style) + 2
    }
    let room = inner - used - 3
    if !note.isEmpty, room > 4 {
      let text = " " + note.truncated(toWidth: room - 2) + " "
      write(text, x: rect.maxX - 2 - text.displayWidth, y: rect.y, style: noteStyle ?? style)
    }
  }

  /// Writes `text` so that it ends at column `maxX` (exclusive).
  @discardableResult
  public mutating func write(
    _ text: String, rightAlignedTo maxX: Int, y: Int, style: CellStyle, clip: Rect? = nil
  ) -> Int {
    write(text, x: maxX - text.displayWidth, y: y, style: style, clip: clip)
  }

  /// Writes `spans` one after another from column `x`; returns the column
  /// after the last one. Spans that run past `clip` end in `…`.
  @discardableResult
  public mutating func write(
    spans: [(String, CellStyle)], x: Int, y: Int, clip: Rect? = nil
  ) -> Int {
    let limit = (clip ?? bounds).maxX
    var column = x
    for (text, style) in spans {
      let room = limit - column
      guard room > 0 else { break }
      column += write(text.truncated(toWidth: room), x: column, y: y, style: style, clip: clip)
      if text.displayWidth > room { break }
    }
    return column
  }
}
