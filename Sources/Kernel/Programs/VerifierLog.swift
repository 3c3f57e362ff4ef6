import Foundation

/// The verifier's log of a refused program, read for what an operator
/// needs: the last lines, and which instruction the verifier stopped at.
public struct VerifierLog: Hashable, Sendable {
  /// The log's non-empty lines.
  public var lines: [String]

  /// Splits a log into lines.
  public init(_ text: String) {
    lines = text.split(separator: "\n").map(String.init).filter {
      !$0.allSatisfy(\.isWhitespace)
    }
  }

  /// The last `count` lines, joined by newlines.
  public func lastLines(_ count: Int) -> String {
    lines.suffix(count).joined(separator: "\n")
  }

  /// The instruction the verifier rejected: an index the error text names
  /// (`... insn 7 ...`, `from insn 3 to 9`), else the last instruction it
  /// printed (`7: (bf) r1 = r6`) before giving up.
  public var rejectedInstruction: Int? {
    for line in lines.reversed().prefix(6) where !line.hasPrefix("processed ") {
      if let index = Self.number(after: "insn ", in: line) { return index }
    }
    for line in lines.reversed() {
      if let index = Self.leadingInstructionIndex(line) { return index }
    }
    return nil
  }

  /// `7` for `7: (bf) r1 = r6`.
  static func leadingInstructionIndex(_ line: String) -> Int? {
    let digits = line.prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty, line.dropFirst(digits.count).hasPrefix(": (") else { return nil }
    return Int(digits)
  }

  /// The first decimal number right after `marker` in `line`.
  static func number(after marker: String, in line: String) -> Int? {
    guard let range = line.range(of: marker) else { return nil }
    let digits = line[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
    return Int(digits)
  }
}
