import BPF
import Engine

/// Shorthands for hand-written test programs.
extension Instruction {
  static func map(_ dst: Register, _ index: Int) -> [Instruction] {
    loadImmediate64(dst, UInt64(index), kind: .mapByIndex)
  }
  static func helper(_ function: HelperFunction) -> Instruction { .call(helper: function.rawValue) }
  static func storeWord(_ immediate: Int32, _ base: Register, _ offset: Int16) -> Instruction {
    .store(.word, immediate: immediate, to: base, offset: offset)
  }
}

/// Runs instructions on a fresh machine with R1 = `r1`.
func run(
  _ instructions: [Instruction], maps: [MapDefinition] = [],
  configuration: MachineConfiguration = .init(), r1: UInt64 = 0
) throws -> UInt64 {
  let machine = try Machine(maps: maps, configuration: configuration)
  return try machine.run(machine.prepare(instructions: instructions), r1: r1)
}

func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

extension PacketRunner {
  /// One 60-byte frame of 0xab through the runner: its verdict and return
  /// value (`"pass 2"`), or the error the run raised, as text.
  func oneFrameOutcome() -> String {
    do {
      let outcome = try run([[UInt8](repeating: 0xab, count: 60)]).outcomes[0]
      return "\(outcome.action) \(outcome.returnValue)"
    } catch {
      return "\(error)"
    }
  }
}
