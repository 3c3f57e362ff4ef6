import BPF

/// Reads the assembly of bpf_conformance's `.data` files (uBPF's syntax:
/// `mov %r1, 1`, `ldxdw %r0, [%r10-8]`, `lock fetch add32 [%r1+4], %r2`,
/// `jne %r0, 1, +2`, labels, `call local f`, `call %r2`) into
/// instructions, so that `make fuzz` can seed the differential fuzzer with
/// the upstream suite's programs. Written from the instruction set, not
/// from the suite's own assembler.
public enum ConformanceAssembler {
  /// Why a line could not be assembled.
  public struct Failure: Error, CustomStringConvertible, Sendable {
    public var line: Int
    public var text: String
    public var reason: String
    public var description: String { "line \(line): \(reason): \(text)" }
  }

  /// The instructions of `source` (one instruction or label per line;
  /// `#` starts a comment).
  public static func assemble(_ source: String) throws(Failure) -> [Instruction] {
    var labels: [String: Int] = [:]
    var lines: [(number: Int, text: String, slot: Int)] = []
    var slot = 0
    for (number, raw) in source.split(separator: "\n", omittingEmptySubsequences: false)
      .enumerated()
    {
      var text = String(
        raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])
      text = text.trimmingCharacters(in: " \t\r")
      guard !text.isEmpty else { continue }
      if text.hasSuffix(":") {
        labels[String(text.dropLast())] = slot
        continue
      }
      lines.append((number + 1, text, slot))
      slot += text.hasPrefix("lddw") ? 2 : 1
    }
    // `exit` as a target (undeclared) is the next `exit` instruction, as
    // the suite's programs use it to end early.
    let exits = lines.filter { $0.text == "exit" }.map(\.slot)
    var instructions: [Instruction] = []
    for line in lines {
      var labels = labels
      if labels["exit"] == nil, let next = exits.first(where: { $0 > line.slot }) {
        labels["exit"] = next
      }
      do {
        instructions += try assemble(line.text, at: line.slot, labels: labels)
      } catch {
        throw Failure(line: line.number, text: line.text, reason: error.reason)
      }
    }
    return instructions
  }

  struct LineError: Error { var reason: String }

  static let arithmetic: [String: ArithmeticOperation] = [
    "add": .add, "sub": .sub, "mul": .mul, "div": .div, "or": .or, "and": .and, "lsh": .lsh,
    "rsh": .rsh, "mod": .mod, "xor": .xor, "mov": .mov, "arsh": .arsh, "sdiv": .div, "smod": .mod,
  ]
  static let jumps: [String: JumpOperation] = [
    "jeq": .jeq, "jgt": .jgt, "jge": .jge, "jset": .jset, "jne": .jne, "jsgt": .jsgt,
    "jsge": .jsge, "jlt": .jlt, "jle": .jle, "jslt": .jslt, "jsle": .jsle,
  ]
  static let sizes: [String: AccessSize] = [
    "b": .byte, "h": .halfWord, "w": .word, "dw": .doubleWord,
  ]
  static let atomics: [String: AtomicOperation] = [
    "add": .add, "or": .or, "and": .and, "xor": .xor, "fetch add": .fetchAdd,
    "fetch or": .fetchOr, "fetch and": .fetchAnd, "fetch xor": .fetchXor, "xchg": .exchange,
    "cmpxchg": .compareExchange,
  ]

  private static func assemble(_ text: String, at slot: Int, labels: [String: Int])
    throws(LineError) -> [Instruction]
  {
    let space = text.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? text.endIndex
    let mnemonic = String(text[..<space])
    let operands = text[space...].split(separator: ",").map {
      $0.trimmingCharacters(in: " \t")
    }.filter { !$0.isEmpty }
    if mnemonic == "lock" {
      // lock [fetch] op[32] [%rd+off], %rs
      var rest = Substring(text.dropFirst(4).trimmingCharacters(in: " \t"))
      func word() -> String {
        let end = rest.firstIndex(of: " ") ?? rest.endIndex
        defer { rest = rest[end...].drop { $0 == " " } }
        return String(rest[..<end])
      }
      var name = word()
      if name == "fetch" { name += " " + word() }
      let narrow = name.hasSuffix("32")
      if narrow { name.removeLast(2) }
      guard let operation = atomics[name] else {
        throw LineError(reason: "unknown atomic operation")
      }
      let parts = rest.split(separator: ",").map { $0.trimmingCharacters(in: " \t") }
      guard parts.count == 2 else { throw LineError(reason: "expected [%rd+off], %rs") }
      let (base, offset) = try memory(parts[0])
      return [
        Instruction(
          opcode: Opcode.memory(.stx, .atomic, narrow ? .word : .doubleWord), dst: base,
          src: try register(parts[1]), offset: offset, immediate: operation.rawValue)
      ]
    }
    switch mnemonic {
    case "exit": return [.exit]
    case "lddw":
      guard operands.count == 2 else { throw LineError(reason: "expected %rd, imm") }
      return Instruction.loadImmediate64(
        try register(operands[0]), UInt64(bitPattern: try immediate64(operands[1])))
    case "ja", "ja32":
      guard operands.count == 1 else { throw LineError(reason: "expected a target") }
      let distance = try target(operands[0], at: slot, labels: labels)
      return mnemonic == "ja"
        ? [.jump(offset: try offset16(distance))] : [.longJump(distance: Int32(distance))]
    case "call":
      guard operands.count == 1 else {
        throw LineError(reason: "expected a helper, register or local")
      }
      let operand = operands[0]
      if operand.hasPrefix("local ") {
        let label = operand.dropFirst(6).trimmingCharacters(in: " ")
        return [.call(local: Int32(try target(label, at: slot, labels: labels)))]
      }
      if operand.hasPrefix("%") {
        return [Instruction(opcode: Opcode.callRegister, dst: try register(operand))]
      }
      return [.call(helper: Int32(truncatingIfNeeded: try immediate64(operand)))]
    default: break
    }
    let narrow =
      mnemonic.hasSuffix("32") && !mnemonic.hasPrefix("movsx")
      && !["be32", "le32", "bswap32", "swap32"].contains(mnemonic)
    let base = narrow ? String(mnemonic.dropLast(2)) : mnemonic
    if let operation = jumps[base] {
      guard operands.count == 3 else { throw LineError(reason: "expected %rd, operand, target") }
      let dst = try register(operands[0])
      let distance = try offset16(try target(operands[2], at: slot, labels: labels))
      if operands[1].hasPrefix("%") {
        return [.jump(operation, dst, try register(operands[1]), offset: distance, wide: !narrow)]
      }
      return [
        .jump(
          operation, dst, immediate: try immediate32(operands[1]), offset: distance,
          wide: !narrow)
      ]
    }
    if base == "neg" {
      guard operands.count == 1 else { throw LineError(reason: "expected %rd") }
      return [
        Instruction(
          opcode: Opcode.arithmetic(.neg, .immediate, wide: !narrow),
          dst: try register(operands[0]))
      ]
    }
    if let operation = arithmetic[base] {
      guard operands.count == 2 else { throw LineError(reason: "expected %rd, operand") }
      let signed: Int16 = base == "sdiv" || base == "smod" ? 1 : 0
      let dst = try register(operands[0])
      if operands[1].hasPrefix("%") {
        return [
          Instruction(
            opcode: Opcode.arithmetic(operation, .register, wide: !narrow), dst: dst,
            src: try register(operands[1]), offset: signed)
        ]
      }
      return [
        Instruction(
          opcode: Opcode.arithmetic(operation, .immediate, wide: !narrow), dst: dst,
          offset: signed, immediate: try immediate32(operands[1]))
      ]
    }
    if mnemonic.hasPrefix("movsx"), operands.count == 2 {
      // movsx{8,16,32}{32,64}: source width, then destination width.
      let widths = mnemonic.dropFirst(5)
      let to64 = widths.hasSuffix("64")
      guard let from = Int16(widths.dropLast(2)) else { throw LineError(reason: "bad movsx") }
      return [
        Instruction(
          opcode: Opcode.arithmetic(.mov, .register, wide: to64), dst: try register(operands[0]),
          src: try register(operands[1]), offset: from)
      ]
    }
    for (prefix, opcode) in [("le", UInt8(0xd4)), ("be", 0xdc), ("bswap", 0xd7), ("swap", 0xd7)]
    where mnemonic.hasPrefix(prefix) {
      guard let bits = Int32(mnemonic.dropFirst(prefix.count)), operands.count == 1 else {
        continue
      }
      return [Instruction(opcode: opcode, dst: try register(operands[0]), immediate: bits)]
    }
    for (prefix, mode, kind) in [
      ("ldxs", AccessMode.memorySignExtend, InstructionClass.ldx), ("ldx", .memory, .ldx),
      ("stx", .memory, .stx), ("st", .memory, .st),
    ] where mnemonic.hasPrefix(prefix) {
      guard let size = sizes[String(mnemonic.dropFirst(prefix.count))], operands.count == 2 else {
        continue
      }
      let opcode = Opcode.memory(kind, mode, size)
      switch kind {
      case .ldx:
        let (base, offset) = try memory(operands[1])
        return [
          Instruction(opcode: opcode, dst: try register(operands[0]), src: base, offset: offset)
        ]
      case .stx:
        let (base, offset) = try memory(operands[0])
        return [
          Instruction(opcode: opcode, dst: base, src: try register(operands[1]), offset: offset)
        ]
      default:
        let (base, offset) = try memory(operands[0])
        return [
          Instruction(
            opcode: opcode, dst: base, offset: offset, immediate: try immediate32(operands[1]))
        ]
      }
    }
    throw LineError(reason: "unknown instruction")
  }

  static func register(_ text: String) throws(LineError) -> Register {
    guard text.hasPrefix("%r"), let number = UInt8(text.dropFirst(2)), number <= 10 else {
      throw LineError(reason: "expected a register %r0-%r10, got \(text)")
    }
    return Register(rawValue: number)
  }

  /// `[%rX+off]`, `[%rX-off]` or `[%rX]`.
  static func memory(_ text: String) throws(LineError) -> (Register, Int16) {
    guard text.hasPrefix("["), text.hasSuffix("]") else {
      throw LineError(reason: "expected [%rX+offset], got \(text)")
    }
    let inner = text.dropFirst().dropLast()
    guard let sign = inner.firstIndex(where: { $0 == "+" || $0 == "-" }) else {
      return (try register(String(inner)), 0)
    }
    let base = try register(String(inner[..<sign]))
    let value = try immediate64(String(inner[sign...]).replacingPrefix("+"))
    guard let offset = Int16(exactly: value) else { throw LineError(reason: "offset out of range") }
    return (base, offset)
  }

  static func immediate64(_ text: String) throws(LineError) -> Int64 {
    var digits = Substring(text)
    let negative = digits.hasPrefix("-")
    if negative || digits.hasPrefix("+") { digits = digits.dropFirst() }
    let magnitude: UInt64?
    if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
      magnitude = UInt64(digits.dropFirst(2), radix: 16)
    } else {
      magnitude = UInt64(digits)
    }
    guard let magnitude else { throw LineError(reason: "expected a number, got \(text)") }
    let value = Int64(bitPattern: magnitude)
    return negative ? 0 &- value : value
  }

  static func immediate32(_ text: String) throws(LineError) -> Int32 {
    let value = try immediate64(text)
    guard value >= Int64(Int32.min), value <= Int64(UInt32.max) else {
      throw LineError(reason: "immediate out of 32 bits: \(text)")
    }
    return Int32(truncatingIfNeeded: value)
  }

  static func offset16(_ value: Int) throws(LineError) -> Int16 {
    guard let offset = Int16(exactly: value) else { throw LineError(reason: "jump too far") }
    return offset
  }

  /// A jump distance: `+N`, `-N`, or a label (relative to the next slot).
  static func target(_ text: String, at slot: Int, labels: [String: Int]) throws(LineError) -> Int {
    if text.hasPrefix("+") || text.hasPrefix("-") { return Int(try immediate64(text)) }
    guard let label = labels[text] else { throw LineError(reason: "unknown label \(text)") }
    return label - slot - 1
  }
}

extension String {
  fileprivate func trimmingCharacters(in set: String) -> String {
    let characters = Set(set)
    var text = Substring(self)
    while let first = text.first, characters.contains(first) { text = text.dropFirst() }
    while let last = text.last, characters.contains(last) { text = text.dropLast() }
    return String(text)
  }

  fileprivate func replacingPrefix(_ prefix: String) -> String {
    hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
  }
}

extension Substring {
  fileprivate func trimmingCharacters(in set: String) -> String {
    String(self).trimmingCharacters(in: set)
  }
}
