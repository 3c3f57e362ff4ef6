import BPF
import Differential
import Testing

/// The generator reaches the whole of ISA v4 (RFC 9669) with memory,
/// stack, maps and helpers: every operation the engines implement appears
/// in the programs the bounded runs generate.
@Suite("Differential: the generator covers ISA v4")
struct GeneratorCoverageTests {
  /// What an instruction exercises, in words that name the ISA's variants.
  static func feature(_ instruction: Instruction) -> String {
    let wide = instruction.instructionClass == .alu64 || instruction.instructionClass == .jmp
    let width = wide ? "64" : "32"
    let operand = instruction.operandSource == .register ? "x" : "k"
    switch instruction.instructionClass {
    case .alu, .alu64:
      let operation = instruction.arithmeticOperation!
      switch operation {
      case .div, .mod: return "\(instruction.offset == 1 ? "s" : "")\(operation)\(width)\(operand)"
      case .mov where instruction.offset != 0: return "movsx\(instruction.offset)to\(width)"
      case .neg: return "neg\(width)"
      case .end:
        let kind = wide ? "bswap" : instruction.operandSource == .register ? "be" : "le"
        return "\(kind)\(instruction.immediate)"
      default: return "\(operation)\(width)\(operand)"
      }
    case .jmp, .jmp32:
      if instruction.opcode == Opcode.callRegister { return "callx" }
      if instruction.isExit { return "exit" }
      if instruction.isLocalCall { return "call-local" }
      if instruction.isHelperCall { return "call-helper-\(instruction.immediate)" }
      if instruction.opcode == Opcode.longJump { return "gotol" }
      if instruction.opcode == Opcode.jump { return "ja" }
      return "\(instruction.jumpOperation!)\(width)\(operand)"
    case .ld:
      if instruction.isWideImmediateLoad { return "lddw-\(instruction.src.rawValue)" }
      return
        "\(instruction.accessMode == .absolute ? "ldabs" : "ldind")\(instruction.accessSize!.bytes)"
    case .ldx:
      return
        "\(instruction.accessMode == .memorySignExtend ? "ldxs" : "ldx")\(instruction.accessSize!.bytes)"
    case .st: return "st\(instruction.accessSize!.bytes)"
    case .stx:
      if instruction.accessMode == .atomic {
        return
          "atomic\(instruction.accessSize!.bytes)-\(AtomicOperation(rawValue: instruction.immediate).map { "\($0)" } ?? "?")"
      }
      return "stx\(instruction.accessSize!.bytes)"
    }
  }

  static func features(_ flavor: CaseGenerator.Flavor, cases: Int) -> Set<String> {
    var seen: Set<String> = []
    for seed in 0..<UInt64(cases) {
      let program = CaseGenerator.generate(ChoiceStream(seed: seed), flavor: flavor).program
      var index = 0
      while index < program.instructions.count {
        let instruction = program.instructions[index]
        if instruction.checkEncodingSucceeds(at: index) { seen.insert(feature(instruction)) }
        index += instruction.isWideImmediateLoad ? 2 : 1
      }
    }
    return seen
  }

  /// Every feature of ISA v4 the verifier lets an XDP program use.
  static var verifiable: Set<String> {
    var expected: Set<String> = []
    for width in ["64", "32"] {
      for operation in ["add", "sub", "mul", "or", "and", "xor", "mov", "lsh", "rsh", "arsh"] {
        expected.formUnion(["\(operation)\(width)k", "\(operation)\(width)x"])
      }
      for operation in ["div", "mod", "sdiv", "smod"] {
        expected.formUnion(["\(operation)\(width)k", "\(operation)\(width)x"])
      }
      expected.insert("neg\(width)")
      for operation in [
        "jeq", "jgt", "jge", "jset", "jne", "jsgt", "jsge", "jlt", "jle", "jslt", "jsle",
      ] {
        expected.formUnion(["\(operation)\(width)k", "\(operation)\(width)x"])
      }
    }
    expected.formUnion(["movsx8to64", "movsx16to64", "movsx32to64", "movsx8to32", "movsx16to32"])
    for bits in [16, 32, 64] { expected.formUnion(["le\(bits)", "be\(bits)", "bswap\(bits)"]) }
    expected.formUnion(["ja", "gotol", "exit", "call-local", "lddw-0", "lddw-5"])
    for size in [1, 2, 4, 8] { expected.formUnion(["ldx\(size)", "st\(size)", "stx\(size)"]) }
    for size in [1, 2, 4] { expected.insert("ldxs\(size)") }
    for size in [4, 8] {
      for operation in AtomicOperation.allCases { expected.insert("atomic\(size)-\(operation)") }
    }
    for helper in [1, 2, 3, 6, 23, 28, 44, 51, 65, 189, 190] {
      expected.insert("call-helper-\(helper)")
    }
    return expected
  }

  @Test func verifiableCasesCoverWhatTheVerifierAllows() {
    let seen = Self.features(.verifiable, cases: 1_500)
    #expect(
      Self.verifiable.subtracting(seen).isEmpty,
      "missing: \(Self.verifiable.subtracting(seen).sorted())")
  }

  @Test func unrestrictedCasesCoverTheRest() {
    var expected = Self.verifiable
    expected.formUnion([
      "callx", "call-helper-5", "call-helper-7", "call-helper-8", "call-helper-12",
    ])
    for size in [1, 2, 4] { expected.formUnion(["ldabs\(size)", "ldind\(size)"]) }
    let seen = Self.features(.unrestricted, cases: 1_500)
    #expect(expected.subtracting(seen).isEmpty, "missing: \(expected.subtracting(seen).sorted())")
  }
}

extension Instruction {
  /// Whether the slot is a valid instruction on its own (raw generated
  /// bytes may not be).
  func checkEncodingSucceeds(at index: Int) -> Bool {
    (try? checkEncoding(at: index)) != nil
  }
}
