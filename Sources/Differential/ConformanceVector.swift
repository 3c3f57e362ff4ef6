import BPF

/// One test of bpf_conformance's suite (a `.data` file): the program (its
/// `-- asm`, or `-- raw` slots), the memory R1 points to (`-- mem`), and
/// the expected R0 (`-- result`) or error (`-- error`).
public struct ConformanceVector: Sendable {
  public var name: String
  public var instructions: [Instruction]
  public var memory: [UInt8]
  public var result: UInt64?
  public var error: String?

  /// Why a file could not be read.
  public struct Failure: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var reason: String
    public var description: String { "\(file): \(reason)" }
  }

  /// Reads the text of a `.data` file named `name`.
  public init(name: String, text: String) throws(Failure) {
    self.name = name
    var sections: [String: [String]] = [:]
    var current: String?
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("-- ") {
        current = String(line.dropFirst(3)).trimmingTrailingSpaces()
        sections[current!, default: []] = []
      } else if let section = current, !line.hasPrefix("#") {
        sections[section, default: []].append(String(line))
      }
    }
    if let raw = sections["raw"] {
      instructions = []
      for line in raw where !line.trimmingTrailingSpaces().isEmpty {
        var digits = Substring(line.trimmingTrailingSpaces())
        if digits.hasPrefix("0x") { digits = digits.dropFirst(2) }
        guard let slot = UInt64(digits, radix: 16) else {
          throw Failure(file: name, reason: "raw slot '\(line)' is not hex")
        }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: slot.littleEndian) { bytes.append(contentsOf: $0) }
        instructions.append(Instruction(littleEndian: bytes, at: 0))
      }
    } else if let asm = sections["asm"] {
      do {
        instructions = try ConformanceAssembler.assemble(asm.joined(separator: "\n"))
      } catch {
        throw Failure(file: name, reason: error.description)
      }
    } else {
      throw Failure(file: name, reason: "no -- asm or -- raw section")
    }
    memory = []
    for token in (sections["mem"] ?? []).joined(separator: " ").split(whereSeparator: {
      $0 == " " || $0 == "\t"
    }) {
      guard let byte = UInt8(token, radix: 16) else {
        throw Failure(file: name, reason: "memory byte '\(token)' is not hex")
      }
      memory.append(byte)
    }
    let resultText = (sections["result"] ?? []).joined().trimmingTrailingSpaces()
    if resultText.isEmpty {
      result = nil
    } else {
      var digits = Substring(resultText)
      if digits.hasPrefix("0x") { digits = digits.dropFirst(2) }
      result = UInt64(digits, radix: 16)
    }
    error = sections["error"].map { $0.joined(separator: " ").trimmingTrailingSpaces() }
  }

  /// The bytes a fuzzer seed carries: ``FuzzInput`` mode `instructions`.
  public var seed: [UInt8] { FuzzInput.instructionsSeed(instructions, memory: memory) }
}

extension StringProtocol {
  fileprivate func trimmingTrailingSpaces() -> String {
    var text = Substring(self)
    while let last = text.last, last == " " || last == "\t" || last == "\r" {
      text = text.dropLast()
    }
    while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
    return String(text)
  }
}
