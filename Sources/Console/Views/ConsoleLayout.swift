/// Where each pane goes on a screen of a given size. Everything adapts
/// from 80×24 up; below that there is no layout, and the screen says the
/// terminal is too small.
///
///     header                                   (1 row)
///     interfaces            │ program          (at least 9 rows)
///     action histogram                         (7 rows, 8 from 32 rows)
///     packets/s plot                           (the rest)
///     status line                              (1 row)
public struct ConsoleLayout: Hashable, Sendable {
  /// The smallest screen the console lays out.
  public static let minimumWidth = 80
  /// The smallest screen the console lays out.
  public static let minimumHeight = 24

  /// The top row: title, selected interface, theme.
  public var header: Rect
  /// The interface list.
  public var interfaces: Rect
  /// The program pane.
  public var program: Rect
  /// The per-action histogram.
  public var actions: Rect
  /// The plot of packets per second.
  public var history: Rect
  /// The bottom row: message and key hints.
  public var status: Rect

  /// The layout for `width` × `height` with `interfaceCount` interfaces
  /// to list; `nil` below 80×24.
  public init?(width: Int, height: Int, interfaceCount: Int) {
    guard width >= Self.minimumWidth, height >= Self.minimumHeight else { return nil }
    let screen = Rect(x: 0, y: 0, width: width, height: height)
    let (header, belowHeader) = screen.splitTop(1)
    let body = Rect(
      x: belowHeader.x, y: belowHeader.y, width: belowHeader.width, height: belowHeader.height - 1)
    status = Rect(x: 0, y: height - 1, width: width, height: 1)
    self.header = header
    // Interfaces: a header row, the rows, two border rows; at most about
    // a third of the body so that the plot keeps its room.
    let topRows = max(9, min(interfaceCount + 3, body.height * 35 / 100))
    let (top, rest) = body.splitTop(topRows)
    let (interfaces, program) = top.splitLeft(width * 55 / 100)
    self.interfaces = interfaces
    self.program = program
    let actionRows = height >= 32 ? 8 : 7
    let (actions, history) = rest.splitTop(actionRows)
    self.actions = actions
    self.history = history
  }
}
