import CNcursesw
import Console
import Testing

/// The cell grid: wide characters, clipping, changed-cell runs, the
/// transcript, the layout and the decoding of terminal input.
@Suite struct ScreenGridTests {
  let red = CellStyle(foreground: RGBColor(red: 255, green: 0, blue: 0))

  @Test func wideCharactersTakeTwoCellsAndStayWhole() {
    var grid = ScreenGrid(width: 6, height: 1)
    #expect(grid.write("a漢b", x: 0, y: 0, style: .plain) == 4)
    #expect(grid[1, 0].character == "漢")
    #expect(grid[2, 0].isContinuation)
    #expect(grid[3, 0].character == "b")
    // Overwriting the right half blanks the left half.
    grid.write("x", x: 2, y: 0, style: .plain)
    #expect(grid[1, 0].character == " ")
    #expect(GridTranscript.characters(of: grid) == ["a xb"])
    // A wide character that does not fit is not split.
    #expect(grid.write("語", x: 5, y: 0, style: .plain) == 0)
    #expect(grid[5, 0].character == " ")
  }

  @Test func writingIsClipped() {
    var grid = ScreenGrid(width: 10, height: 2)
    let clip = Rect(x: 2, y: 0, width: 3, height: 1)
    grid.write("abcdef", x: 1, y: 0, style: .plain, clip: clip)
    grid.write("zz", x: 0, y: 1, style: .plain, clip: clip)
    #expect(GridTranscript.characters(of: grid) == ["  bcd", ""])
  }

  @Test func spansEndInAnEllipsisWhenCut() {
    var grid = ScreenGrid(width: 8, height: 1)
    grid.write(spans: [("abc", .plain), ("defghij", red)], x: 0, y: 0)
    #expect(GridTranscript.characters(of: grid) == ["abcdefg…"])
    #expect(grid[7, 0].style == red)
  }

  @Test func changesAreRunsOfDifferingCellsOnly() {
    var old = ScreenGrid(width: 10, height: 3)
    old.write("hello", x: 0, y: 0, style: .plain)
    var new = old
    new.write("J", x: 0, y: 0, style: .plain)
    new.write("xy", x: 4, y: 2, style: red)
    let changes = GridChanges(from: old, to: new)
    #expect(changes.runs.map { [$0.x, $0.y, $0.cells.count] } == [[0, 0, 1], [4, 2, 2]])
    #expect(GridChanges(from: new, to: new).runs.isEmpty)
    #expect(GridChanges(from: nil, to: new).cellCount == 30)
    #expect(GridChanges(from: ScreenGrid(width: 5, height: 3), to: new).cellCount == 30)
  }

  @Test func changingTheRightHalfOfAWideCharacterRedrawsItsLeftHalf() {
    var old = ScreenGrid(width: 4, height: 1)
    old.write("漢", x: 0, y: 0, style: .plain)
    var new = old
    new.restyle(Rect(x: 1, y: 0, width: 1, height: 1)) { $0 = red }
    let run = GridChanges(from: old, to: new).runs.first
    #expect(run?.x == 0)
    #expect(run?.cells.first?.character == "漢")
  }

  @Test func transcriptNamesStylesInOrderOfAppearance() {
    var grid = ScreenGrid(width: 4, height: 2)
    grid.write("ab", x: 2, y: 1, style: red.adding(.bold))
    let text = GridTranscript(grid).text
    #expect(text.contains("--- style\n....\n..aa\n"))
    #expect(text.contains(". fg=default bg=default\na fg=#ff0000 bg=default bold\n"))
  }

  @Test(arguments: [(80, 24, 6), (120, 40, 6), (200, 60, 40), (80, 24, 100)])
  func layoutTilesTheScreen(width: Int, height: Int, interfaces: Int) throws {
    let layout = try #require(
      ConsoleLayout(width: width, height: height, interfaceCount: interfaces))
    let panes = [
      layout.header, layout.interfaces, layout.program, layout.actions, layout.history,
      layout.status,
    ]
    #expect(panes.reduce(0) { $0 + $1.width * $1.height } == width * height)
    for (index, pane) in panes.enumerated() {
      #expect(!pane.isEmpty)
      for other in panes.dropFirst(index + 1) { #expect(pane.intersection(other).isEmpty) }
    }
    #expect(layout.interfaces.height >= min(interfaces + 3, 9))
    #expect(layout.history.height >= 6)
    #expect(
      ConsoleLayout(width: width - 1 - (width - 80), height: height, interfaceCount: 1) == nil)
  }

  @Test func terminalInputDecodesCursesResults() {
    let ok = cncurses_ok()
    let function = cncurses_key_code_yes()
    #expect(TerminalInput(status: cncurses_err(), code: 0) == .tick)
    #expect(TerminalInput(status: ok, code: 3) == .key(.interrupt))
    #expect(TerminalInput(status: ok, code: 27) == .key(.escape))
    #expect(TerminalInput(status: ok, code: 9) == .key(.tab))
    #expect(TerminalInput(status: ok, code: 13) == .key(.enter))
    #expect(TerminalInput(status: ok, code: 127) == .key(.backspace))
    #expect(TerminalInput(status: ok, code: UInt32(UInt8(ascii: "j"))) == .key(.character("j")))
    #expect(TerminalInput(status: ok, code: 0x00E9) == .key(.character("é")))
    #expect(TerminalInput(status: function, code: UInt32(KEY_RESIZE)) == .resize)
    #expect(TerminalInput(status: function, code: UInt32(KEY_UP)) == .key(.up))
    #expect(TerminalInput(status: function, code: UInt32(KEY_BTAB)) == .key(.backTab))
    #expect(TerminalInput(status: function, code: UInt32(KEY_ENTER)) == .key(.enter))
  }
}
