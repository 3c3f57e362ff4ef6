import BPF

/// Generates programs that use the whole of ISA v4 (RFC 9669: every ALU
/// operation of both widths with `sdiv`/`smod`/`movsx`, byte swaps, every
/// load and store width with `ldsx`, atomics of both widths and every
/// operation, 64- and 32-bit jumps, `gotol`, bpf-to-bpf calls, `ld_imm64`)
/// with memory, stack, maps and helper calls, from a ``ChoiceStream``.
///
/// Two flavors:
/// - ``Flavor/verifiable``: every program is built to pass the kernel's
///   verifier as an XDP program (registers written before they are read,
///   the stack initialised, packet accesses after a bounds check, map
///   values after a null check, bounded loops, helpers with the argument
///   types the verifier wants) and uses only helpers whose result the
///   kernel gives deterministically, so the kernel is a third oracle;
/// - ``Flavor/unrestricted``: adds what only the engines are compared on:
///   `ld_abs`/`ld_ind`, `callx`, the clock, random numbers, the CPU id,
///   tail calls, wild pointers, runaway loops and raw instructions.
public struct CaseGenerator {
  /// How far a generated program goes.
  public enum Flavor: String, Sendable, CaseIterable {
    case verifiable
    case unrestricted
  }

  var choices: ChoiceStream
  let flavor: Flavor
  /// The subprograms' bodies, by number (0 may call 1; 1 calls none).
  var subprograms: [[Instruction]] = []
  /// Calls to fix when linking: (function, index in it, callee).
  var calls: [(function: Int, index: Int, callee: Int)] = []

  /// Bytes of the stack the main program initialises (and uses) below R10.
  static let mainArea = 192
  /// Bytes a subprogram initialises in its own frame.
  static let subprogramArea = 64
  /// The window of the caller's frame a subprogram gets a pointer to:
  /// `r10 - 128`, 64 bytes.
  static let sharedWindow = (offset: -128, length: 64)

  init(choices: ChoiceStream, flavor: Flavor) {
    self.choices = choices
    self.flavor = flavor
  }

  /// A case from `choices`.
  public static func generate(_ choices: ChoiceStream, flavor: Flavor) -> GeneratedCase {
    var generator = CaseGenerator(choices: choices, flavor: flavor)
    return generator.generate()
  }

  private mutating func generate() -> GeneratedCase {
    let subprogramCount = choices.int(0...2)
    var main = FunctionBuilder(kind: .main, area: Self.mainArea, calls: subprogramCount)
    build(&main, blocks: choices.int(3...18))
    for number in 0..<subprogramCount {
      var body = FunctionBuilder(
        kind: .subprogram(number), area: Self.subprogramArea,
        calls: number + 1 < subprogramCount ? number + 1 : -1)
      build(&body, blocks: choices.int(1...6))
      subprograms.append(body.code)
      calls += body.calls.map { (number + 1, $0.index, $0.callee) }
    }
    calls += main.calls.map { (0, $0.index, $0.callee) }
    let program = link(main: main.code)
    let packets = (0..<choices.int(1...4)).map { _ in packet() }
    let batch = GeneratedCase.BatchVariantChoice(
      strategy: choices.pick(BatchStrategy.allCases), bound: choices.pick(BatchBound.allCases),
      size: choices.int(1...8))
    return GeneratedCase(
      program: program, maps: GeneratedCase.maps, packets: packets, flavor: flavor, batch: batch)
  }

  /// The main body, then each subprogram, with call distances fixed.
  private func link(main: [Instruction]) -> Program {
    var instructions = main
    var starts = [main.count]
    var records: [Program.Subprogram] = []
    for (number, body) in subprograms.enumerated() {
      starts.append(instructions.count)
      records.append(.init(name: "sub\(number)", start: instructions.count, length: body.count))
      instructions += body
    }
    for call in calls {
      let site = (call.function == 0 ? 0 : starts[call.function]) + call.index
      let target = starts[call.callee + 1]
      instructions[site].immediate = Int32(target - site - 1)
    }
    return Program(
      name: "generated", sectionName: "xdp", instructions: instructions, mainLength: main.count,
      subprograms: records)
  }

  /// A frame of 14 to 200 bytes (any length, down to 0, unrestricted).
  private mutating func packet() -> [UInt8] {
    let length =
      flavor == .unrestricted && choices.chance(10) ? choices.int(0...13) : choices.int(14...200)
    let seed = choices.word()
    var state = seed
    return (0..<length).map { _ in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return UInt8(truncatingIfNeeded: state >> 33)
    }
  }
}
