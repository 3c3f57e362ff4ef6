/// The dialogs drawn over the panes: key help, the attach chooser, the
/// detach confirmation and the message log.
struct OverlayView {
  let overlay: Overlay
  let snapshot: ConsoleSnapshot
  let log: MessageLog
  let styles: StyleSheet

  /// Every key, as `?` shows them.
  static let help: [(key: String, action: String)] = [
    ("↑ ↓  j k", "move in the focused pane (list, program, plot)"),
    ("Tab  Shift-Tab", "switch pane"),
    ("Enter  a", "attach: a bundled sample or a typed path"),
    ("b", "swap per-packet ⇄ batch (y confirms a move)"),
    ("s", "cycle rewrite strategy (shift, reserve)"),
    ("d", "detach (asks first; another tool's program too)"),
    ("r", "reset counters baseline"),
    ("/", "filter interfaces by name, driver, program"),
    ("o", "sort interfaces: listed, name, rx rate, program"),
    ("l", "message log: full messages, verifier logs"),
    ("i", "toggle i40e ports only"),
    ("t", "cycle themes"),
    ("p", "pause / resume plots"),
    ("m", "maps of the program (↑ ↓ scroll)"),
    ("c", "action counts per CPU"),
    ("?", "this help"),
    ("Esc", "close a dialog, clear the filter"),
    ("q  Ctrl-C", "quit"),
  ]

  func draw(into grid: inout ScreenGrid, in screen: Rect) {
    switch overlay {
    case .help: drawHelp(into: &grid, in: screen)
    case .attach(let chooser): drawChooser(chooser, into: &grid, in: screen)
    case .confirmDetach(let interface): drawConfirm(interface, into: &grid, in: screen)
    // The filter and the swap question live on the status line.
    case .filter, .confirmSwap: break
    case .messages(let scroll): drawMessages(scroll: scroll, into: &grid, in: screen)
    case .maps(let scroll): drawMaps(scroll: scroll, into: &grid, in: screen)
    case .perCPU: drawPerCPU(into: &grid, in: screen)
    }
  }

  /// The log, newest at the bottom and shown first: each entry's time,
  /// its text wrapped in full and its detail (a verifier's whole log)
  /// indented under it; `scroll` lines back from the end.
  private func drawMessages(scroll: Int, into grid: inout ScreenGrid, in screen: Rect) {
    let inner = dialog(
      "messages (\(log.count))", width: screen.width - 4, height: screen.height - 2,
      into: &grid, in: screen)
    var lines: [(String, CellStyle)] = log.lines(width: inner.width - 2).map { line in
      (line.text, line.isDetail ? styles.inactive : styles.message(log.entries[line.entry].message))
    }
    if lines.isEmpty { lines.append(("no messages yet", styles.inactive)) }
    let rows = max(1, inner.height - 1)
    let back = max(0, min(scroll, lines.count - rows))
    let first = max(0, lines.count - rows - back)
    for (offset, line) in lines[first...].prefix(rows).enumerated() {
      grid.write(line.0, x: inner.x + 1, y: inner.y + offset, style: line.1, clip: inner)
    }
    let position =
      lines.count > rows
      ? "lines \(first + 1)–\(first + min(rows, lines.count)) of \(lines.count)" : ""
    grid.write(
      position, rightAlignedTo: inner.maxX - 1, y: inner.maxY - 1, style: styles.inactive,
      clip: inner)
  }

  /// A cleared, bordered dialog box of the given size, centred.
  func dialog(
    _ title: String, width: Int, height: Int, into grid: inout ScreenGrid, in screen: Rect
  ) -> Rect {
    let rect = screen.centered(width: width, height: height)
    grid.fill(rect, style: styles.base)
    grid.box(rect, style: styles.focusBorder, title: title, titleStyle: styles.title)
    return rect.inset(by: 1)
  }

  private func drawHelp(into grid: inout ScreenGrid, in screen: Rect) {
    let keyWidth = Self.help.map(\.key.displayWidth).max() ?? 0
    let width = keyWidth + (Self.help.map(\.action.displayWidth).max() ?? 0) + 7
    let inner = dialog(
      "keys", width: width, height: Self.help.count + 4, into: &grid, in: screen)
    for (offset, entry) in Self.help.enumerated() {
      let y = inner.y + 1 + offset
      grid.write(entry.key, x: inner.x + 2, y: y, style: styles.highlight, clip: inner)
      grid.write(entry.action, x: inner.x + 4 + keyWidth, y: y, style: styles.base, clip: inner)
    }
  }

  private func drawChooser(_ chooser: AttachChooser, into grid: inout ScreenGrid, in screen: Rect) {
    let choices = snapshot.attachChoices
    let rows =
      choices.map { choice in
        (
          (choice.objectPath.split(separator: "/").last.map(String.init) ?? choice.objectPath)
            + (choice.programName.map { "  " + $0 } ?? ""), choice.summary
        )
      } + [("type a path…", "any BPF object with an XDP program")]
    let nameWidth = min(40, rows.map(\.0.displayWidth).max() ?? 0)
    let width = min(
      screen.width - 4, max(50, nameWidth + (rows.map(\.1.displayWidth).max() ?? 0) + 8))
    let height = min(screen.height - 2, rows.count + 5)
    let inner = dialog(
      "attach to \(chooser.interface)", width: width, height: height, into: &grid, in: screen)
    let listRows = inner.height - 3
    let first = max(0, min(chooser.cursor - listRows / 2, rows.count - listRows))
    for (offset, row) in rows.enumerated().dropFirst(first).prefix(listRows) {
      let y = inner.y + 1 + offset - first
      let selected = offset == chooser.cursor
      let style = selected ? styles.selected : styles.base
      if selected { grid.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), style: style) }
      let x =
        inner.x + 2
        + grid.write(
          row.0.padded(toWidth: nameWidth), x: inner.x + 2, y: y, style: style, clip: inner)
      grid.write("  " + row.1, x: x, y: y, style: selected ? style : styles.inactive, clip: inner)
    }
    let prompt = inner.maxY - 1
    if chooser.typing {
      let end = grid.write("path: ", x: inner.x + 2, y: prompt, style: styles.inactive, clip: inner)
      let text = ProgramView.leftTruncated(chooser.path, width: inner.width - end - 4) + "▏"
      grid.write(text, x: inner.x + 2 + end, y: prompt, style: styles.highlight, clip: inner)
    } else if choices.isEmpty {
      grid.write(
        "no bundled samples found (make samples)", x: inner.x + 2, y: prompt,
        style: styles.inactive, clip: inner)
    }
  }

  private func drawConfirm(_ interface: String, into grid: inout ScreenGrid, in screen: Rect) {
    let ours = snapshot.selectedInterface == interface ? snapshot.program?.programName : nil
    let foreign = snapshot.interface(named: interface)?.program
    let program =
      ours ?? foreign.map { "\($0.name ?? "program") #\($0.id) (another tool's)" }
      ?? "the program"
    let question = "Detach \(program) from \(interface)?"
    let inner = dialog(
      "detach", width: max(40, question.displayWidth + 6), height: 6, into: &grid, in: screen)
    grid.write(
      question, x: inner.x + 2, y: inner.y + 1, style: styles.base.adding(.bold), clip: inner)
    grid.write(
      spans: [
        ("y", styles.highlight), (" detach    ", styles.base), ("n", styles.highlight),
        (" keep it", styles.base),
      ],
      x: inner.x + 2, y: inner.y + 2, clip: inner)
  }
}
