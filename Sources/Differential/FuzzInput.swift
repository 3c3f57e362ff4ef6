import BPF
import Engine

/// What one input of the differential fuzzer is: its first byte picks
/// how the rest is read.
///
/// - `byte % 4` 0 or 1: choices for a ``CaseGenerator/Flavor/verifiable``
///   case (the engines, the batch form and the kernel are compared);
/// - 2: choices for an ``CaseGenerator/Flavor/unrestricted`` case (the
///   engines and the batch form);
/// - 3: a little-endian 16-bit memory length, the memory, then raw
///   instructions (the seeds from the samples and bpf_conformance): run as
///   a conformance program (R1 = the memory) and as an XDP program over
///   frames, in both engines.
public enum FuzzInput: Sendable {
  case generated(GeneratedCase)
  case instructions([Instruction], memory: [UInt8])

  /// Reads an input.
  public init(_ bytes: [UInt8]) {
    let mode = bytes.first.map { $0 % 4 } ?? 0
    let rest = Array(bytes.dropFirst())
    switch mode {
    case 0, 1:
      self = .generated(CaseGenerator.generate(ChoiceStream(rest), flavor: .verifiable))
    case 2:
      self = .generated(CaseGenerator.generate(ChoiceStream(rest), flavor: .unrestricted))
    default:
      let length = rest.count >= 2 ? Int(rest[0]) | Int(rest[1]) << 8 : 0
      let memory = Array(rest.dropFirst(2).prefix(length))
      let code = Array(rest.dropFirst(2 + memory.count))
      let instructions =
        (try? Instruction.decode(littleEndian: code.prefix(code.count & ~7))) ?? []
      self = .instructions(instructions, memory: memory)
    }
  }

  /// The seed bytes for a generated case of `flavor` from `choices`.
  public static func generatedSeed(_ choices: [UInt8], flavor: CaseGenerator.Flavor) -> [UInt8] {
    [flavor == .verifiable ? 0 : 2] + choices
  }

  /// The seed bytes for raw instructions over `memory`.
  public static func instructionsSeed(_ instructions: [Instruction], memory: [UInt8]) -> [UInt8] {
    let length = min(memory.count, 0xffff)
    return [3, UInt8(length & 0xff), UInt8(length >> 8)] + memory.prefix(length)
      + Instruction.encode(instructions)
  }
}

/// Raw instructions in both engines: as a bpf_conformance program (R1 the
/// memory, R2 its length, helper 5 returns R1) and as an XDP program run
/// per packet and in its batch form over fixed frames. The results and
/// errors must be the same.
public struct InstructionsOracle: Sendable {
  public init() {}

  /// Frames the raw programs run over: short, Ethernet-sized, long.
  static let frames: [[UInt8]] = [
    Array(0..<14), (0..<60).map { UInt8(truncatingIfNeeded: $0 &* 7) },
    (0..<200).map { UInt8(255 - $0) },
  ]

  @discardableResult
  public func compare(_ instructions: [Instruction], memory: [UInt8]) throws(Disagreement)
    -> EngineOracle.Tally
  {
    guard !instructions.isEmpty else { return EngineOracle.Tally() }
    let program = Program(name: "raw", sectionName: "xdp", instructions: instructions)
    let results = EngineKind.allCases.map { engine in
      Result { () throws(ConformanceError) in
        try ConformanceRun.execute(instructions, memory: memory, engine: engine)
      }
    }
    if results[0] != results[1] {
      throw Disagreement(
        oracle: .engines,
        summary:
          "conformance run: \(EngineKind.allCases[0]) \(results[0]), \(EngineKind.allCases[1]) \(results[1])",
        program: program, packets: [memory])
    }
    let generated = GeneratedCase(
      program: program, maps: GeneratedCase.maps, packets: Self.frames, flavor: .unrestricted,
      batch: .init(strategy: .reserve, bound: .count, size: 2))
    var tally = try EngineOracle().compare(generated)
    tally.executions += 1
    return tally
  }
}
