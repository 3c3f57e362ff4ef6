import BPF

/// The time series: packets per second of each action over the last
/// minute (or longer), as Braille lines over a labelled scale.
struct RatePlotView {
  let history: RateHistory
  let window: Double
  let paused: Bool
  let focused: Bool
  let styles: StyleSheet

  func draw(into grid: inout ScreenGrid, in rect: Rect) {
    let title = "packets/s · last \(Int(window)) s" + (paused ? " · paused" : "")
    grid.box(
      rect, style: focused ? styles.focusBorder : styles.border, title: title,
      titleStyle: paused ? styles.highlight : styles.title)
    drawLegend(into: &grid, rect: rect)
    let inner = rect.inset(by: 1)
    guard inner.height >= 3, inner.width >= 20 else { return }
    let points = history.window(seconds: window)
    let peak = points.flatMap(\.packetsPerSecond).max() ?? 0
    let scale = Self.niceCeiling(peak)
    let labels = peak > 0 ? [Quantity.axis(scale), Quantity.axis(scale / 2), "0"] : ["", "", "0"]
    let axisWidth = (labels.map(\.count).max() ?? 1) + 1
    let plot = Rect(
      x: inner.x + axisWidth + 1, y: inner.y, width: inner.width - axisWidth - 2,
      height: inner.height - 1)
    drawAxes(into: &grid, plot: plot, labels: labels, axisWidth: axisWidth)
    guard let end = points.last?.time, peak > 0 else {
      let text = points.isEmpty ? "no samples yet" : "no packets in the last \(Int(window)) s"
      grid.write(
        text, x: plot.x + (plot.width - text.displayWidth) / 2, y: plot.y + plot.height / 2,
        style: styles.inactive, clip: plot)
      return
    }
    var canvas = BrailleCanvas(columns: plot.width, rows: plot.height)
    for action in XDPAction.allCases {
      drawLine(of: action, from: points, end: end, scale: scale, on: &canvas)
    }
    for row in 0..<canvas.rows {
      for column in 0..<canvas.columns {
        guard let character = canvas.character(column: column, row: row) else { continue }
        let owner = canvas.owner(column: column, row: row).flatMap {
          XDPAction(rawValue: UInt32($0))
        }
        grid.write(
          String(character), x: plot.x + column, y: plot.y + row,
          style: owner.map(styles.action) ?? styles.base)
      }
    }
  }

  /// One action's line: for each dot column the rate at that time (the
  /// last reading at or before it), joined vertically to the previous one.
  private func drawLine(
    of action: XDPAction, from points: ArraySlice<RateHistory.Point>, end: Double, scale: Double,
    on canvas: inout BrailleCanvas
  ) {
    let start = end - window
    let top = canvas.dotHeight - 1
    var previous: Int?
    var index = points.startIndex
    for x in 0..<canvas.dotWidth {
      let time = start + window * Double(x + 1) / Double(canvas.dotWidth)
      while index + 1 < points.endIndex, points[index + 1].time <= time { index += 1 }
      guard points[index].time <= time else {
        previous = nil
        continue
      }
      let value = points[index][action]
      let y = Int((value / scale * Double(top)).rounded())
      guard value > 0 || previous.map({ $0 > 0 }) == true else {
        previous = 0
        continue
      }
      canvas.setColumn(x: x, from: previous ?? y, to: y, series: Int(action.rawValue))
      previous = y
    }
  }

  private func drawAxes(into grid: inout ScreenGrid, plot: Rect, labels: [String], axisWidth: Int) {
    let rows = [plot.y, plot.y + (plot.height - 1) / 2, plot.maxY - 1]
    for y in plot.y..<plot.maxY {
      grid.write(rows.contains(y) ? "┤" : "│", x: plot.x - 1, y: y, style: styles.graphText)
    }
    for (label, y) in zip(labels, rows) {
      grid.write(label, rightAlignedTo: plot.x - 1, y: y, style: styles.graphText)
    }
    let axis = plot.maxY
    grid.write(
      "└" + String(repeating: "─", count: plot.width), x: plot.x - 1, y: axis,
      style: styles.graphText)
    let marks = [(0.0, "-\(Int(window))s"), (0.5, "-\(Int(window / 2))s"), (1.0, "now")]
    for (fraction, text) in marks {
      let x = plot.x + Int(Double(plot.width - 1) * fraction) - text.displayWidth / 2
      let clamped = max(plot.x, min(plot.maxX - text.displayWidth, x))
      grid.write(text, x: clamped, y: axis, style: styles.graphText)
    }
  }

  private func drawLegend(into grid: inout ScreenGrid, rect: Rect) {
    var spans: [(String, CellStyle)] = []
    for action in XDPAction.allCases {
      spans.append(("━", styles.action(action)))
      spans.append((action.name.uppercased() + " ", styles.inactive))
    }
    let width = spans.reduce(0) { $0 + $1.0.displayWidth }
    guard rect.width > width + 40 else { return }
    grid.write(spans: spans, x: rect.maxX - 2 - width, y: rect.y)
  }

  /// The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `value` (1 for 0).
  static func niceCeiling(_ value: Double) -> Double {
    guard value > 0, value.isFinite else { return 1 }
    var magnitude = 1.0
    while magnitude * 10 <= value { magnitude *= 10 }
    while magnitude > value { magnitude /= 10 }
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] where step * magnitude >= value {
      return step * magnitude
    }
    return 10 * magnitude
  }
}
