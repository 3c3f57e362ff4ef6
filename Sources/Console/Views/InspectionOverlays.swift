import BPF

extension OverlayView {
  /// The maps pane: each map of the selected program and its nonzero
  /// entries, from line `scroll` on.
  func drawMaps(scroll: Int, into grid: inout ScreenGrid, in screen: Rect) {
    let lines = MapPanel.lines(snapshot.maps)
    let width = min(screen.width - 4, max(50, (lines.map(\.text.displayWidth).max() ?? 0) + 6))
    let height = min(screen.height - 2, max(6, lines.count + 4))
    let title = "maps of \(snapshot.selectedInterface ?? "?")"
    let inner = dialog(title, width: width, height: height, into: &grid, in: screen)
    guard !lines.isEmpty else {
      grid.write(
        "the selected interface runs no program with maps", x: inner.x + 2, y: inner.y + 1,
        style: styles.inactive, clip: inner)
      return
    }
    let rows = inner.height - 2
    let first = max(0, min(scroll, lines.count - rows))
    for (offset, line) in lines.dropFirst(first).prefix(rows).enumerated() {
      grid.write(
        line.text, x: inner.x + 2, y: inner.y + 1 + offset,
        style: line.heading ? styles.highlight : styles.base, clip: inner)
    }
  }

  /// The per-CPU pane: packets per action on each CPU.
  func drawPerCPU(into grid: inout ScreenGrid, in screen: Rect) {
    let cpus = snapshot.perCPU
    let columns = XDPAction.allCases
    let width = 8 + columns.count * 12 + 4
    let inner = dialog(
      "packets per CPU", width: min(screen.width - 4, width),
      height: min(screen.height - 2, max(6, cpus.count + 5)), into: &grid, in: screen)
    guard !cpus.isEmpty else {
      grid.write(
        "no counters: the program was not attached by xdpbatch", x: inner.x + 2, y: inner.y + 1,
        style: styles.inactive, clip: inner)
      return
    }
    let heading =
      "CPU".padded(toWidth: 6)
      + columns.map { $0.name.uppercased().padded(toWidth: 12, alignRight: true) }.joined()
    grid.write(heading, x: inner.x + 2, y: inner.y + 1, style: styles.inactive, clip: inner)
    for (cpu, counts) in cpus.enumerated().prefix(inner.height - 3) {
      let row =
        String(cpu).padded(toWidth: 6)
        + columns.map { String(counts[$0].packets).padded(toWidth: 12, alignRight: true) }
        .joined()
      grid.write(row, x: inner.x + 2, y: inner.y + 2 + cpu, style: styles.base, clip: inner)
    }
  }
}
