/// One `bpf_line_info` record of `.BTF.ext`: the source line an
/// instruction was compiled from, with the line's text as clang stored it.
public struct SourceLine: Hashable, Sendable {
  /// Byte offset of the instruction in its ELF section.
  public var byteOffset: UInt32
  /// The source file.
  public var file: String
  /// The 1-based line number.
  public var line: Int
  /// The column.
  public var column: Int
  /// The line's source text (trimmed of surrounding whitespace).
  public var text: String

  /// `xdp_prog.c:12: return ctx->data;`
  public var description: String { "\(file):\(line): \(text)" }

  /// Reads the line-info records of a `.BTF.ext` section (after its
  /// 24-byte header), by section name; empty when there are none.
  static func records(_ data: ByteView, btf: BTF?) throws(BPFObjectError) -> [String: [SourceLine]]
  {
    func invalid(_ reason: String) -> BPFObjectError {
      .invalidBTF(file: data.file, section: ".BTF.ext", reason: reason)
    }
    let headerLength = UInt64(try data.u32(4))
    let offset = UInt64(try data.u32(16))
    let length = UInt64(try data.u32(20))
    guard length > 0, let btf else { return [:] }
    guard data.contains(offset: headerLength + offset, length: length) else {
      throw invalid("line info records (offset \(offset), length \(length)) are out of bounds")
    }
    let records = try data.window(
      offset: headerLength + offset, length: length, region: ".BTF.ext line info")
    let recordSize = Int(try records.u32(0))
    guard recordSize >= 16 else { throw invalid("line info record size \(recordSize) is below 16") }
    var result: [String: [SourceLine]] = [:]
    var position = 4
    while position + 8 <= records.count {
      let name = try btf.string(at: try records.u32(position))
      let count = Int(try records.u32(position + 4))
      position += 8
      guard records.contains(offset: UInt64(position), length: UInt64(count) * UInt64(recordSize))
      else { throw invalid("\(count) line info records for '\(name)' run past the end") }
      for index in 0..<count {
        let base = position + index * recordSize
        let column = try records.u32(base + 12)
        result[name, default: []].append(
          SourceLine(
            byteOffset: try records.u32(base), file: try btf.string(at: try records.u32(base + 4)),
            line: Int(column >> 10), column: Int(column & 0x3ff),
            text: try btf.string(at: try records.u32(base + 8)).trimmingWhitespace))
      }
      position += count * recordSize
    }
    return result
  }
}

extension String {
  /// The string without leading and trailing spaces and tabs.
  fileprivate var trimmingWhitespace: String {
    let characters = Array(self)
    let first = characters.firstIndex { $0 != " " && $0 != "\t" } ?? characters.count
    let last = characters.lastIndex { $0 != " " && $0 != "\t" } ?? -1
    return first <= last ? String(characters[first...last]) : ""
  }
}

extension BPFObject {
  /// The source line of instruction `index` of `program` (as this object
  /// linked it): the last line record at or before the instruction in
  /// the function it belongs to; nil when the object has no line info.
  public func sourceLine(of index: Int, in program: Program) -> SourceLine? {
    var function = program.name
    var sectionName = program.sectionName
    var position = index
    if index >= program.mainLength,
      let subprogram = program.subprograms.first(where: {
        index >= $0.start && index < $0.start + $0.length
      })
    {
      function = subprogram.name
      position = index - subprogram.start
      sectionName =
        executableSections.first { $0.functions.contains { $0.name == subprogram.name } }?.name
        ?? ".text"
    }
    guard let section = self.section(named: sectionName),
      let start = section.functions.first(where: { $0.name == function })?.start,
      let lines = sourceLines[sectionName]
    else { return nil }
    let byteOffset = UInt32((start + position) * Instruction.size)
    let functionStart = UInt32(start * Instruction.size)
    return lines.last { $0.byteOffset <= byteOffset && $0.byteOffset >= functionStart }
  }
}
