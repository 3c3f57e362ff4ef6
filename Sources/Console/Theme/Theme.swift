import BPF

/// A colour theme: one colour per ``Key``, read from a btop-style file
/// (`theme[main_bg]="#1c1f26"`). A key without a colour uses the
/// terminal's own default colour, which is how the mono theme draws.
public struct Theme: Hashable, Sendable {
  /// The colours a theme sets, by their name in theme files.
  public enum Key: String, CaseIterable, Sendable {
    /// Background of the whole screen.
    case mainBackground = "main_bg"
    /// Ordinary text.
    case mainForeground = "main_fg"
    /// Pane titles.
    case title
    /// Key letters in hints, and other highlights.
    case highlight = "hi_fg"
    /// Background of the selected row.
    case selectedBackground = "selected_bg"
    /// Text of the selected row.
    case selectedForeground = "selected_fg"
    /// Secondary text: units, absent values, labels.
    case inactive = "inactive_fg"
    /// Pane borders.
    case border = "div_line"
    /// The focused pane's border.
    case focusBorder = "focus_line"
    /// Error messages.
    case error = "error_fg"
    /// Informational messages.
    case info = "info_fg"
    /// Plot axes and scales.
    case graphText = "graph_text"
    /// The i40e marker.
    case i40e = "i40e_fg"
    /// XDP_ABORTED bars and lines.
    case aborted = "action_aborted"
    /// XDP_DROP bars and lines.
    case drop = "action_drop"
    /// XDP_PASS bars and lines.
    case pass = "action_pass"
    /// XDP_TX bars and lines.
    case tx = "action_tx"
    /// XDP_REDIRECT bars and lines.
    case redirect = "action_redirect"

    /// The key for `action`'s colour.
    public init(_ action: XDPAction) {
      switch action {
      case .aborted: self = .aborted
      case .drop: self = .drop
      case .pass: self = .pass
      case .tx: self = .tx
      case .redirect: self = .redirect
      }
    }
  }

  /// The theme's name (its file name without `.theme`).
  public var name: String
  /// The colours it sets; a missing key is the terminal default.
  public var colors: [Key: RGBColor]

  /// Describes a theme.
  public init(name: String, colors: [Key: RGBColor]) {
    self.name = name
    self.colors = colors
  }

  /// The colour for `key`, `nil` for the terminal default.
  public subscript(key: Key) -> RGBColor? { colors[key] }

  /// Whether the theme draws without any colour (mono, `NO_COLOR`).
  public var isMonochrome: Bool { colors.isEmpty }

  /// The built-in dark theme; also the base that theme files fill in.
  public static let standard: Theme = {
    (try? ThemeFile.parse(BuiltinThemes.standard, name: "default", base: nil))
      ?? Theme(name: "default", colors: [:])
  }()
}
