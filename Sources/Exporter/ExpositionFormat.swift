import Foundation

/// The two formats `/metrics` serves: Prometheus's text format (0.0.4),
/// and OpenMetrics 1.0 when the scraper's `Accept` header prefers it (as
/// Prometheus itself does).
public enum ExpositionFormat: Sendable, Equatable {
  /// `text/plain; version=0.0.4`.
  case text
  /// `application/openmetrics-text; version=1.0.0`.
  case openMetrics

  /// The `Content-Type` of a response in this format.
  public var contentType: String {
    switch self {
    case .text: "text/plain; version=0.0.4; charset=utf-8"
    case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
    }
  }

  /// The format an `Accept` header asks for: the acceptable media range
  /// with the highest quality that names one of the two formats (ties go
  /// to the earlier one); the text format when there is no header or
  /// nothing in it is recognised.
  public static func negotiate(accept: String?) -> ExpositionFormat {
    guard let accept else { return .text }
    var best: (format: ExpositionFormat, quality: Double)?
    for range in accept.split(separator: ",") {
      let parameters = range.split(separator: ";").map {
        $0.trimmingCharacters(in: .whitespaces).lowercased()
      }
      guard let mediaType = parameters.first else { continue }
      var quality = 1.0
      var version: String?
      for parameter in parameters.dropFirst() {
        let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
        guard pair.count == 2 else { continue }
        if pair[0] == "q" { quality = Double(pair[1]) ?? 0 }
        if pair[0] == "version" { version = pair[1] }
      }
      let format: ExpositionFormat? =
        switch mediaType {
        case "application/openmetrics-text":
          version == nil || version == "1.0.0" || version == "0.0.1" ? .openMetrics : nil
        case "text/plain", "*/*", "text/*":
          version == nil || version == "0.0.4" ? .text : nil
        default: nil
        }
      guard let format, quality > 0 else { continue }
      if quality > (best?.quality ?? 0) { best = (format, quality) }
    }
    return best?.format ?? .text
  }

  /// `exposition` (swift-prometheus's text format) in this format.
  ///
  /// OpenMetrics differs from the text format, for what the exporter
  /// serves, in two points: a counter family is named without the
  /// `_total` its samples keep (in `# HELP` and `# TYPE`), and the
  /// exposition ends with `# EOF`. `# HELP` also escapes double quotes.
  public func render(_ exposition: String) -> String {
    guard self == .openMetrics else { return exposition }
    let lines = exposition.split(separator: "\n", omittingEmptySubsequences: true)
    var counters: Set<Substring> = []
    for line in lines where line.hasPrefix("# TYPE ") && line.hasSuffix(" counter") {
      let words = line.split(separator: " ")
      if words.count == 4 { counters.insert(words[2]) }
    }
    var output = ""
    output.reserveCapacity(exposition.utf8.count + 16)
    for line in lines {
      guard line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") else {
        output += line
        output += "\n"
        continue
      }
      let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
      guard words.count >= 3 else { continue }
      var name = words[2]
      if counters.contains(name), name.hasSuffix("_total") { name = name.dropLast(6) }
      output += "# \(words[1]) \(name)"
      if words.count == 4 {
        let rest =
          words[1] == "HELP"
          ? words[3].replacingOccurrences(of: "\"", with: "\\\"") : String(words[3])
        output += " " + rest
      }
      output += "\n"
    }
    return output + "# EOF\n"
  }
}
