import CNcursesw
import Glibc

/// The terminal through ncursesw: copies grids out (only the cells that
/// changed since the last frame) and reads keys with a 100 ms timeout.
/// ``close()`` gives the terminal back as it was; call it on every exit.
final class CursesTerminal {
  private let window: UnsafeMutablePointer<WINDOW>
  private let palette: TerminalPalette?
  private var pairs: [ColorPair: Int32] = [:]
  private let pairLimit: Int32
  private var previous: ScreenGrid?
  private var isOpen = true

  /// A foreground and background palette index; -1 is the default.
  private struct ColorPair: Hashable {
    var foreground: Int32
    var background: Int32
  }

  /// Takes over the terminal: raw keys (Ctrl-C arrives as a key), no
  /// echo, hidden cursor, reads that time out after `timeout` ms.
  init(timeout: Int32 = 100) throws(TerminalError) {
    setlocale(LC_ALL, "")
    guard cncurses_newterm() != nil, let window = cncurses_stdscr() else {
      throw .unusableTerminal(term: getenv("TERM").map { String(cString: $0) })
    }
    self.window = window
    raw()
    noecho()
    nonl()
    keypad(window, true)
    curs_set(0)
    set_escdelay(25)
    wtimeout(window, timeout)
    if has_colors() {
      start_color()
      use_default_colors()
      palette = TerminalPalette(colors: Int(cncurses_colors()))
      pairLimit = cncurses_color_pairs()
    } else {
      palette = nil
      pairLimit = 0
    }
  }

  deinit { close() }

  /// Gives the terminal back: leaves curses mode, restores the screen.
  func close() {
    guard isOpen else { return }
    isOpen = false
    curs_set(1)
    endwin()
  }

  /// The terminal's size in cells.
  var size: (width: Int, height: Int) {
    (Int(getmaxx(window)), Int(getmaxy(window)))
  }

  /// Waits up to the timeout for a key. A hung-up terminal makes reads
  /// fail at once; that is reported as ``TerminalInput/closed`` instead of
  /// a tick, so the run loop ends rather than spins.
  func read() -> TerminalInput {
    var code: wint_t = 0
    let status = wget_wch(window, &code)
    let input = TerminalInput(status: status, code: UInt32(code))
    guard input == .tick else { return input }
    var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
    let ready = poll(&descriptor, 1, 0)
    let gone = Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL)
    return ready > 0 && descriptor.revents & gone != 0 ? .closed : .tick
  }

  /// Forgets what is on screen, so that the next frame is drawn whole
  /// (after a resize, or when the screen may have been disturbed).
  func invalidate() {
    previous = nil
    clearok(window, true)
  }

  /// Shows `grid`, writing only the cells that changed.
  func draw(_ grid: ScreenGrid) {
    if let previous, previous.width != grid.width || previous.height != grid.height {
      werase(window)
    }
    for run in GridChanges(from: previous, to: grid).runs {
      var x = run.x
      for cell in run.cells {
        defer { x += 1 }
        guard let character = cell.character else { continue }
        var text = character.unicodeScalars.map { wchar_t(bitPattern: $0.value) }
        text.append(0)
        _ = cncurses_put_cell(
          window, Int32(run.y), Int32(x), text, attributes(cell.style.attributes),
          pair(for: cell.style))
      }
    }
    wnoutrefresh(window)
    doupdate()
    previous = grid
  }

  private func attributes(_ attributes: TextAttributes) -> attr_t {
    var result = cncurses_a_normal()
    if attributes.contains(.bold) { result |= cncurses_a_bold() }
    if attributes.contains(.dim) { result |= cncurses_a_dim() }
    if attributes.contains(.reverse) { result |= cncurses_a_reverse() }
    if attributes.contains(.underline) { result |= cncurses_a_underline() }
    return result
  }

  /// The colour pair for a style, made on first use; pair 0 (the
  /// terminal's default colours) when colours are off or pairs ran out.
  private func pair(for style: CellStyle) -> Int32 {
    guard let palette else { return 0 }
    let (foreground, background) = palette.indices(
      foreground: style.foreground, background: style.background)
    let key = ColorPair(
      foreground: foreground.map(Int32.init) ?? -1, background: background.map(Int32.init) ?? -1)
    if key.foreground == -1, key.background == -1 { return 0 }
    if let pair = pairs[key] { return pair }
    let pair = Int32(pairs.count + 1)
    guard pair < pairLimit,
      init_extended_pair(pair, key.foreground, key.background) == cncurses_ok()
    else { return 0 }
    pairs[key] = pair
    return pair
  }
}
