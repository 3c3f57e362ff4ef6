import Foundation

/// Numbers as the panes print them: three significant digits with an SI
/// prefix (`1.23 M`, `456 k`), so columns stay narrow and comparable.
enum Quantity {
  private static let prefixes = ["", "k", "M", "G", "T", "P", "E"]

  /// `value` with an SI prefix and `unit`: `1.23 Mpps`, `980 B/s`.
  static func si(_ value: Double, unit: String = "") -> String {
    guard value.isFinite, value > 0 else { return "0" + (unit.isEmpty ? "" : " " + unit) }
    var scaled = value
    var prefix = 0
    while scaled >= 999.5, prefix < prefixes.count - 1 {
      scaled /= 1000
      prefix += 1
    }
    let digits: String
    if prefix == 0 {
      digits =
        scaled < 10 && scaled != scaled.rounded()
        ? String(format: "%.1f", scaled)
        : String(format: "%.0f", scaled)
    } else if scaled < 9.995 {
      digits = String(format: "%.2f", scaled)
    } else if scaled < 99.95 {
      digits = String(format: "%.1f", scaled)
    } else {
      digits = String(format: "%.0f", scaled)
    }
    let suffix = prefixes[prefix] + unit
    return suffix.isEmpty ? digits : digits + " " + suffix
  }

  /// A count with an SI prefix: `12.3 M`, `999`.
  static func count(_ value: UInt64) -> String { si(Double(value)) }

  /// A short axis label: `1.5M`, `250k`, `0`.
  static func axis(_ value: Double) -> String {
    var text = si(value).replacingOccurrences(of: " ", with: "")
    let unit = text.last.map { $0.isLetter ? String($0) : "" } ?? ""
    if !unit.isEmpty { text.removeLast() }
    if text.contains(".") {
      while text.hasSuffix("0") { text.removeLast() }
      if text.hasSuffix(".") { text.removeLast() }
    }
    return text + unit
  }

  /// Nanoseconds with one decimal: `38.2 ns`.
  static func nanoseconds(_ value: Double) -> String {
    String(format: value < 100 ? "%.1f ns" : "%.0f ns", value)
  }
}
