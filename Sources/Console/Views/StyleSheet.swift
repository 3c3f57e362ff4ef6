import BPF

/// The cell styles the panes draw with, derived from a theme. A theme
/// without colours (mono) gets attributes instead: reverse for the
/// selection, bold for titles and errors, dim for secondary text.
struct StyleSheet {
  /// The theme the styles come from.
  let theme: Theme
  /// Ordinary text on the screen background.
  let base: CellStyle

  init(_ theme: Theme) {
    self.theme = theme
    base = CellStyle(foreground: theme[.mainForeground], background: theme[.mainBackground])
  }

  private func colored(_ key: Theme.Key, fallback: TextAttributes = []) -> CellStyle {
    guard let color = theme[key] else { return base.adding(fallback) }
    return base.foreground(color)
  }

  /// Pane borders.
  var border: CellStyle { colored(.border) }
  /// The focused pane's border.
  var focusBorder: CellStyle { colored(.focusBorder, fallback: .bold) }
  /// Pane titles.
  var title: CellStyle { colored(.title).adding(.bold) }
  /// Secondary text: units, labels, absent values.
  var inactive: CellStyle { colored(.inactive, fallback: .dim) }
  /// Key letters and other highlights.
  var highlight: CellStyle { colored(.highlight, fallback: .underline).adding(.bold) }
  /// Error text.
  var error: CellStyle { colored(.error).adding(.bold) }
  /// Informational text.
  var info: CellStyle { colored(.info) }
  /// Plot axes and scale labels.
  var graphText: CellStyle { colored(.graphText, fallback: .dim) }
  /// The i40e marker.
  var i40e: CellStyle { colored(.i40e, fallback: .bold) }

  /// The selected row.
  var selected: CellStyle {
    guard theme[.selectedBackground] != nil || theme[.selectedForeground] != nil else {
      return base.adding(.reverse)
    }
    return CellStyle(
      foreground: theme[.selectedForeground] ?? base.foreground,
      background: theme[.selectedBackground] ?? base.background, attributes: .bold)
  }

  /// Bars, lines and labels of `action`.
  func action(_ action: XDPAction) -> CellStyle { colored(Theme.Key(action)) }

  /// A status message in its colour.
  func message(_ message: StatusMessage) -> CellStyle {
    message.severity == .error ? error : info
  }
}
