/// Text attributes a terminal can show on a cell.
public struct TextAttributes: OptionSet, Hashable, Sendable {
  /// The attribute bits.
  public let rawValue: UInt8

  /// Wraps attribute bits.
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// Bold (or bright).
  public static let bold = TextAttributes(rawValue: 1 << 0)
  /// Dim.
  public static let dim = TextAttributes(rawValue: 1 << 1)
  /// Foreground and background swapped.
  public static let reverse = TextAttributes(rawValue: 1 << 2)
  /// Underlined.
  public static let underline = TextAttributes(rawValue: 1 << 3)
}

/// How a cell is drawn: colours and attributes. A `nil` colour is the
/// terminal's own default (what the mono theme and `NO_COLOR` use).
public struct CellStyle: Hashable, Sendable {
  /// Foreground colour.
  public var foreground: RGBColor?
  /// Background colour.
  public var background: RGBColor?
  /// Attributes.
  public var attributes: TextAttributes

  /// Describes a style.
  public init(
    foreground: RGBColor? = nil, background: RGBColor? = nil, attributes: TextAttributes = []
  ) {
    self.foreground = foreground
    self.background = background
    self.attributes = attributes
  }

  /// The terminal's default colours, no attributes.
  public static let plain = CellStyle()

  /// This style with `attributes` added.
  public func adding(_ attributes: TextAttributes) -> CellStyle {
    var style = self
    style.attributes.formUnion(attributes)
    return style
  }

  /// This style with another foreground.
  public func foreground(_ color: RGBColor?) -> CellStyle {
    var style = self
    style.foreground = color
    return style
  }
}
