import BPF

/// The action histogram: one bar per XDP action, scaled to the busiest,
/// with packets/s, bytes/s and totals beside it.
struct HistogramView {
  let traffic: ActionTraffic
  /// Why there are no counters to show (another tool's program runs
  /// without xdpbatch's counting pass); `nil` draws the bars.
  var uncounted: String? = nil
  let focused: Bool
  let styles: StyleSheet

  private static let eighths: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"]

  func draw(into grid: inout ScreenGrid, in rect: Rect) {
    let peak = XDPAction.allCases.map { traffic.packetsPerSecond[$0] ?? 0 }.max() ?? 0
    grid.box(
      rect, style: focused ? styles.focusBorder : styles.border, title: "actions",
      titleStyle: styles.title,
      note: "total " + Quantity.si(Double(traffic.totals.totalPackets))
        + " pkts" + redirectErrorsNote, noteStyle: styles.inactive)
    let inner = rect.inset(by: 1)
    if let uncounted {
      grid.write(uncounted, x: inner.x + 1, y: inner.y, style: styles.inactive, clip: inner)
      return
    }
    let wide = inner.width >= 110
    let columns: [(String, Int)] =
      [("pkts/s", 11), ("bytes/s", 11), ("packets", 9)] + (wide ? [("bytes", 9)] : [])
    let numbersWidth = columns.reduce(0) { $0 + $1.1 }
    let labelWidth = 9
    let barWidth = max(1, inner.width - labelWidth - numbersWidth - 2)
    var y = inner.y
    if inner.height > XDPAction.allCases.count {
      var x = inner.x + 1 + labelWidth + barWidth + 1
      for (heading, width) in columns {
        x += grid.write(
          heading.padded(toWidth: width, alignRight: true), x: x, y: y, style: styles.inactive,
          clip: inner)
      }
      grid.write("action", x: inner.x + 1, y: y, style: styles.inactive, clip: inner)
      y += 1
    }
    for action in XDPAction.allCases where y < inner.maxY {
      let rate = traffic.packetsPerSecond[action] ?? 0
      let total = traffic.totals[action]
      let style = styles.action(action)
      grid.write(
        action.name.uppercased(), x: inner.x + 1, y: y,
        style: rate > 0 ? style.adding(.bold) : styles.inactive, clip: inner)
      let bar = Self.bar(value: rate, peak: peak, width: barWidth)
      grid.write(bar, x: inner.x + 1 + labelWidth, y: y, style: style, clip: inner)
      let values =
        [
          Quantity.si(rate, unit: "pps"),
          Quantity.si(traffic.bytesPerSecond[action] ?? 0, unit: "B/s"),
          Quantity.count(total.packets),
        ] + (wide ? [Quantity.si(Double(total.bytes), unit: "B")] : [])
      var x = inner.x + 1 + labelWidth + barWidth + 1
      for (value, column) in zip(values, columns) {
        let valueStyle = value.hasPrefix("0") ? styles.inactive : styles.base
        x += grid.write(
          value.padded(toWidth: column.1, alignRight: true), x: x, y: y, style: valueStyle,
          clip: inner)
      }
      y += 1
    }
    if let errors = traffic.redirectErrors, errors.total > 0, y < inner.maxY {
      grid.write(
        "redirect errors " + errors.summary, x: inner.x + 1, y: y,
        style: styles.action(.aborted), clip: inner)
    }
  }

  /// The failed redirects in the box's note, by reason, most first
  /// (` · redirect errors 16.0 k: ENETDOWN 16.0 k, dropped 3`); empty
  /// when there are none. The row under the bars says what each means
  /// when the box has room for it.
  var redirectErrorsNote: String {
    guard let errors = traffic.redirectErrors, errors.total > 0 else { return "" }
    let reasons = errors.packets.filter { $0.value > 0 }.sorted { $0.value > $1.value }.map {
      "\($0.key) \(Quantity.count($0.value))"
    }
    return " · redirect errors \(Quantity.count(errors.total)): " + reasons.joined(separator: ", ")
  }

  /// A bar of `width` cells filled in eighths in proportion to
  /// `value / peak`; a non-zero value always shows at least a sliver.
  static func bar(value: Double, peak: Double, width: Int) -> String {
    guard peak > 0, value > 0, width > 0 else { return "" }
    let eighthsTotal = max(1, Int((value / peak * Double(width * 8)).rounded()))
    let full = min(width, eighthsTotal / 8)
    let remainder = eighthsTotal % 8
    var bar = String(repeating: "█", count: full)
    if remainder > 0, full < width { bar.append(eighths[remainder - 1]) }
    return bar
  }
}
