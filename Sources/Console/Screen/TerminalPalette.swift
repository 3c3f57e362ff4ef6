/// The colours a terminal offers, and the nearest of them to a theme's
/// exact colour.
public enum TerminalPalette: Hashable, Sendable {
  /// xterm's 256 colours: the 6×6×6 cube (16...231) and 24 greys
  /// (232...255). The first 16 are left out: users redefine them.
  case xterm256
  /// The 8 ANSI colours.
  case ansi8

  /// The palette for a terminal that reports `colors` colours; `nil`
  /// when it has fewer than 8 (draw without colour).
  public init?(colors: Int) {
    if colors >= 256 {
      self = .xterm256
    } else if colors >= 8 {
      self = .ansi8
    } else {
      return nil
    }
  }

  /// The index of the colour nearest to `color`.
  public func index(for color: RGBColor) -> Int {
    switch self {
    case .xterm256: Self.nearest256(color)
    case .ansi8: Self.nearest8(color)
    }
  }

  /// Palette indices for a foreground on a background (`nil`: the
  /// terminal default). With 8 colours, dark greys and dark blues all land
  /// on black; text that would vanish into its background is drawn in
  /// white on black (black on anything else) instead.
  public func indices(foreground: RGBColor?, background: RGBColor?) -> (Int?, Int?) {
    let front = foreground.map(index(for:))
    let back = background.map(index(for:))
    guard self == .ansi8, let front, let back, front == back else { return (front, back) }
    return (back == 0 ? 7 : 0, back)
  }

  /// The RGB value of palette entry `index`, as xterm defines it.
  public func color(at index: Int) -> RGBColor {
    switch self {
    case .ansi8:
      return Self.ansi[max(0, min(7, index))]
    case .xterm256:
      if index >= 232 {
        let level = UInt8(8 + 10 * (index - 232))
        return RGBColor(red: level, green: level, blue: level)
      }
      let cube = max(0, index - 16)
      return RGBColor(
        red: Self.cubeLevels[cube / 36], green: Self.cubeLevels[cube / 6 % 6],
        blue: Self.cubeLevels[cube % 6])
    }
  }

  private static let cubeLevels: [UInt8] = [0, 95, 135, 175, 215, 255]

  private static let ansi: [RGBColor] = [
    RGBColor(red: 0, green: 0, blue: 0), RGBColor(red: 205, green: 0, blue: 0),
    RGBColor(red: 0, green: 205, blue: 0), RGBColor(red: 205, green: 205, blue: 0),
    RGBColor(red: 0, green: 0, blue: 238), RGBColor(red: 205, green: 0, blue: 205),
    RGBColor(red: 0, green: 205, blue: 205), RGBColor(red: 229, green: 229, blue: 229),
  ]

  private static func nearest8(_ color: RGBColor) -> Int {
    ansi.indices.min { ansi[$0].distance(to: color) < ansi[$1].distance(to: color) } ?? 7
  }

  private static func nearest256(_ color: RGBColor) -> Int {
    func level(_ channel: UInt8) -> Int {
      cubeLevels.indices.min {
        abs(Int(cubeLevels[$0]) - Int(channel)) < abs(Int(cubeLevels[$1]) - Int(channel))
      } ?? 0
    }
    let cube = 16 + 36 * level(color.red) + 6 * level(color.green) + level(color.blue)
    let average = (Int(color.red) + Int(color.green) + Int(color.blue)) / 3
    let grey = 232 + max(0, min(23, (average - 3) / 10))
    let palette = TerminalPalette.xterm256
    return palette.color(at: grey).distance(to: color) < palette.color(at: cube).distance(to: color)
      ? grey : cube
  }
}
