/// The top and bottom rows: what is selected and running, and the last
/// message with the keys that matter most.
struct StatusLineView {
  let snapshot: ConsoleSnapshot
  let state: ConsoleState
  let styles: StyleSheet

  /// The key hints, most useful first; as many as fit are shown.
  static let hints: [(key: String, action: String)] = [
    ("?", "help"), ("q", "quit"), ("l", "log"), ("a", "attach"), ("b", "batch"),
    ("s", "strategy"), ("d", "detach"), ("/", "filter"), ("o", "sort"), ("t", "theme"),
    ("p", "pause"), ("r", "reset"),
  ]

  func drawHeader(into grid: inout ScreenGrid, in rect: Rect) {
    grid.fill(rect, style: styles.base)
    var spans: [(String, CellStyle)] = [(" xdpbatch ", styles.title.adding(.reverse))]
    if let name = state.selection {
      spans.append(("  " + name, styles.base.adding(.bold)))
      if snapshot.interface(named: name)?.isI40e == true { spans.append((" ● i40e", styles.i40e)) }
      if snapshot.selectedInterface == name, let program = snapshot.program {
        spans.append(("  " + program.programName, styles.base))
        spans.append((" · " + program.mode.rawValue, styles.info))
      }
    }
    grid.write(spans: spans, x: rect.x, y: rect.y, clip: rect)
    var right = "theme \(state.themeName)"
    if state.plotsPaused { right = "PAUSED · " + right }
    grid.write(
      right + " ", rightAlignedTo: rect.maxX, y: rect.y, style: styles.inactive, clip: rect)
  }

  func drawStatus(into grid: inout ScreenGrid, in rect: Rect) {
    grid.fill(rect, style: styles.base)
    var x = rect.x + 1
    let message = state.notice ?? snapshot.status
    if let message {
      // The message comes first; the hints get what is left, at least "? help".
      // The most useful part (the cause) when it does not fit; `l` shows all.
      let mark = message.severity == .error ? "✗ " : ""
      let room = rect.width - 12 - mark.count
      let text = mark + message.headline(width: room)
      x += grid.write(
        text.truncated(toWidth: room + mark.count), x: x, y: rect.y,
        style: styles.message(message))
      x += 2
    }
    let hints = overlayHints ?? Self.hints
    var spans: [(String, CellStyle)] = []
    for hint in hints {
      spans.append((hint.key, styles.highlight))
      spans.append((" " + hint.action + "  ", styles.inactive))
    }
    // Only whole hints: drop from the end until the rest fits.
    var width = spans.reduce(0) { $0 + $1.0.displayWidth }
    while width > rect.maxX - x, spans.count >= 2 {
      width -= spans.removeLast().0.displayWidth + spans.removeLast().0.displayWidth
    }
    let start = message == nil ? x : max(x, rect.maxX - width)
    grid.write(spans: spans, x: start, y: rect.y, clip: rect)
  }

  /// While a dialog is open, its own keys replace the general hints.
  private var overlayHints: [(key: String, action: String)]? {
    switch state.overlay {
    case nil: nil
    case .help: [("any key", "close")]
    case .maps: [("↑↓", "scroll"), ("any key", "close")]
    case .perCPU: [("any key", "close")]
    case .filter: [("Enter", "keep"), ("Esc", "cancel")]
    case .confirmDetach: [("y", "detach"), ("n", "keep")]
    case .confirmSwap: [("y", "move"), ("any key", "cancel")]
    case .messages: [("↑↓", "scroll"), ("Esc", "close")]
    case .attach(let chooser):
      chooser.typing
        ? [("Enter", "attach"), ("Esc", "back")]
        : [("↑↓", "choose"), ("Enter", "attach"), ("Esc", "close")]
    }
  }
}
