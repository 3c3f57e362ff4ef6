import Foundation

/// The parsed output of `llvm-objdump -d` for a BPF object: per section,
/// each instruction's slot index, raw bytes and text.
///
/// Objdump prints one line per instruction (`ld_imm64` is one line with 16
/// bytes):
///
/// ```
/// Disassembly of section xdp:
///
/// 0000000000000000 <xdp_prog>:
///        0:	61 12 04 00 00 00 00 00	w2 = *(u32 *)(r1 + 0x4)
///        6:	bd 21 02 00 00 00 00 00	if r1 <= r2 goto +0x2 <xdp_prog+0x48>
/// ```
///
/// The `<symbol+0x..>` note that follows a branch is dropped from the text.
public struct ObjdumpListing: Sendable {
  /// One instruction line.
  public struct Line: Hashable, Sendable {
    /// The slot index within the section.
    public var index: Int
    /// The raw bytes (8, or 16 for `ld_imm64`).
    public var bytes: [UInt8]
    /// The instruction text without the branch-target note.
    public var text: String
  }

  /// One disassembled section.
  public struct Section: Sendable {
    /// The section name.
    public var name: String
    /// Its instructions.
    public var lines: [Line]
    /// The section's bytes, rebuilt from the lines.
    public var bytes: [UInt8] { lines.flatMap(\.bytes) }
  }

  /// The sections, in objdump's order.
  public var sections: [Section] = []

  /// Sections by name (the first of each name).
  public func section(named name: String) -> Section? { sections.first { $0.name == name } }

  /// Parses `llvm-objdump -d` output.
  public init(parsing output: String) {
    let prefix = "Disassembly of section "
    for rawLine in output.split(separator: "\n", omittingEmptySubsequences: true) {
      if rawLine.hasPrefix(prefix) {
        let name = rawLine.dropFirst(prefix.count).dropLast(rawLine.hasSuffix(":") ? 1 : 0)
        sections.append(Section(name: String(name), lines: []))
      } else if let line = Self.instruction(rawLine), !sections.isEmpty {
        sections[sections.count - 1].lines.append(line)
      }
    }
  }

  /// Parses `       6:\tbd 21 02 00 00 00 00 00\tif r1 <= r2 goto +0x2 <f+0x48>`.
  /// The text may itself hold a tab (`ld_pseudo\tr1, 0x5, 0x3`).
  private static func instruction(_ line: Substring) -> Line? {
    let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
    guard fields.count == 3,
      fields[0].hasSuffix(":"),
      let index = Int(fields[0].dropLast().trimmingCharacters(in: .whitespaces))
    else { return nil }
    let bytes = fields[1].split(separator: " ").compactMap { UInt8($0, radix: 16) }
    guard !bytes.isEmpty else { return nil }
    return Line(index: index, bytes: bytes, text: withoutTargetNote(String(fields[2])))
  }

  /// Drops a trailing ` <symbol+0x48>` after a branch; keeps `<unknown>`.
  public static func withoutTargetNote(_ text: String) -> String {
    guard text.hasSuffix(">"), let open = text.range(of: " <", options: .backwards) else {
      return text
    }
    return String(text[..<open.lowerBound])
  }
}
