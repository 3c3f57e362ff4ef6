import BPF

/// The original program and its batch form side by side, one row per
/// instruction, with what the rewrite did to each marked: what
/// `xdpbatch rewrite --listing` prints.
public struct BatchListing: Sendable {
  /// What the rewrite did to a row's instruction.
  public enum Mark: String, Sendable, CaseIterable {
    /// Unchanged.
    case kept = " "
    /// The prologue (runs once a batch).
    case prologue = "P"
    /// The per-record head (skips padding records under `immediate`).
    case head = "H"
    /// The per-packet epilogue.
    case epilogue = "E"
    /// The code after the loop that returns the record count.
    case tail = "T"
    /// A stack access or frame pointer moved down (`shift`).
    case moved = "S"
    /// An inserted frame pointer adjustment (`shift`).
    case adjustment = "A"
    /// An exit of the main program, now a jump to the epilogue (or removed,
    /// control falling into it).
    case exit = "X"
  }

  /// One row: an original instruction, a rewritten one, or both.
  public struct Row: Hashable, Sendable {
    /// The original instruction's index and text.
    public var original: (index: Int, text: String)?
    /// The rewritten instruction's index and text.
    public var rewritten: (index: Int, text: String)?
    /// What the rewrite did.
    public var mark: Mark

    public static func == (lhs: Row, rhs: Row) -> Bool {
      lhs.original?.index == rhs.original?.index && lhs.original?.text == rhs.original?.text
        && lhs.rewritten?.index == rhs.rewritten?.index
        && lhs.rewritten?.text == rhs.rewritten?.text && lhs.mark == rhs.mark
    }

    public func hash(into hasher: inout Hasher) {
      hasher.combine(original?.index)
      hasher.combine(original?.text)
      hasher.combine(rewritten?.index)
      hasher.combine(rewritten?.text)
      hasher.combine(mark)
    }
  }

  /// The rows, in the rewritten program's order; an original instruction
  /// that was removed sits where it would have been.
  public var rows: [Row]

  /// Lines up `original` with `batch`, naming maps from `maps`.
  public init(original: Program, batch: BatchProgram, maps: [MapDefinition]) {
    let before = Disassembler(naming: original, maps: maps).lines(original.instructions)
    let after = Disassembler(naming: batch.program, maps: maps).lines(batch.program.instructions)
    var origin: [Int: Int] = [:]
    for (index, location) in batch.originalLocations.enumerated() {
      if let location { origin[location] = index }
    }
    let originalText = Dictionary(uniqueKeysWithValues: before.map { ($0.index, $0.text) })
    var rows: [Row] = []
    var pendingOriginals = before.map(\.index)[...]
    func flushRemoved(before limit: Int) {
      while let next = pendingOriginals.first, next < limit {
        pendingOriginals.removeFirst()
        if batch.originalLocations[next] == nil {
          rows.append(Row(original: (next, originalText[next] ?? ""), rewritten: nil, mark: .exit))
        }
      }
    }
    for line in after {
      let source = origin[line.index]
      if line.index == batch.layout.epilogue.lowerBound {
        flushRemoved(before: original.mainLength)
      }
      if let source {
        flushRemoved(before: source)
        if pendingOriginals.first == source { pendingOriginals.removeFirst() }
      }
      let text = source.flatMap { originalText[$0] }
      rows.append(
        Row(
          original: source.flatMap { index in text.map { (index, $0) } },
          rewritten: (line.index, line.text),
          mark: Self.mark(line, original: text, in: batch.layout)))
    }
    flushRemoved(before: Int.max)
    self.rows = rows
  }

  private static func mark(
    _ line: Disassembler.Line, original: String?, in layout: BatchProgram.Layout
  ) -> Mark {
    if layout.prologue.contains(line.index) { return .prologue }
    if layout.head.contains(line.index) { return .head }
    if layout.epilogue.contains(line.index) { return .epilogue }
    if layout.tail.contains(line.index) { return .tail }
    guard let original else { return .adjustment }
    if original == "exit" && line.text != "exit" { return .exit }
    return original == line.text ? .kept : .moved
  }

  /// The listing as text: original on the left, rewritten on the right,
  /// the mark between them, then a legend.
  public var text: String {
    func cell(_ entry: (index: Int, text: String)?) -> String {
      entry.map { String($0.index).leftPadded(5) + ":  " + $0.text } ?? ""
    }
    let width = max(rows.map { cell($0.original).count }.max() ?? 0, "original".count)
    var lines = [
      "original".rightPadded(width) + "     batch form"
    ]
    for row in rows {
      let left = cell(row.original).rightPadded(width)
      lines.append(left + "  \(row.mark.rawValue)  " + cell(row.rewritten))
    }
    lines.append(
      "marks: P prologue (once), H head (per record), E epilogue (per packet), T after the loop (once), "
        + "S stack access moved, A frame pointer adjustment, X exit to the epilogue")
    return lines.joined(separator: "\n")
  }
}

extension String {
  fileprivate func leftPadded(_ width: Int) -> String {
    String(repeating: " ", count: max(0, width - count)) + self
  }

  fileprivate func rightPadded(_ width: Int) -> String {
    self + String(repeating: " ", count: max(0, width - count))
  }
}
