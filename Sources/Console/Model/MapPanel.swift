/// One map of the selected program as the maps pane shows it: its name
/// and kind, and its entries already written as text (keys and values
/// formatted from the map's BTF by the layer that reads the kernel).
public struct MapPanel: Hashable, Sendable {
  /// One entry: key and value as text.
  public struct Entry: Hashable, Sendable {
    /// The key.
    public var key: String
    /// The value (per-CPU maps: the sum over CPUs).
    public var value: String

    /// An entry.
    public init(key: String, value: String) {
      self.key = key
      self.value = value
    }
  }

  /// The map's name.
  public var name: String
  /// Its kind and sizes (`percpu_array, 256 entries`).
  public var kind: String
  /// The entries shown (zero values left out).
  public var entries: [Entry]
  /// Why the entries cannot be shown, if so.
  public var problem: String?

  /// A map panel.
  public init(name: String, kind: String, entries: [Entry], problem: String? = nil) {
    self.name = name
    self.kind = kind
    self.entries = entries
    self.problem = problem
  }

  /// The pane's lines for `panels`: a heading per map, then its entries.
  public static func lines(_ panels: [MapPanel]) -> [(text: String, heading: Bool)] {
    var lines: [(String, Bool)] = []
    for panel in panels {
      lines.append(("\(panel.name)  (\(panel.kind))", true))
      if let problem = panel.problem {
        lines.append(("  " + problem, false))
      } else if panel.entries.isEmpty {
        lines.append(("  (no nonzero entries)", false))
      }
      for entry in panel.entries { lines.append(("  \(entry.key)  →  \(entry.value)", false)) }
    }
    return lines
  }
}
