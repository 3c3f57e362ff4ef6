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

extension Array where Element == UInt8 {
  /// Where `pattern` starts in these bytes (compiled code searched for an
  /// instruction's encoding).
  func starts(of pattern: [UInt8]) -> [Int] {
    guard !pattern.isEmpty, pattern.count <= count else { return [] }
    return (0...(count - pattern.count)).filter {
      self[$0..<($0 + pattern.count)].elementsEqual(pattern)
    }
  }

  /// Where the `rel32` jump or call whose four-byte field starts at
  /// `field` goes.
  func relativeTarget(field: Int) -> Int {
    let distance = self[field..<(field + 4)].enumerated().reduce(UInt32(0)) { sum, byte in
      sum | UInt32(byte.element) << (8 * byte.offset)
    }
    return field + 4 + Int(Int32(bitPattern: distance))
  }
}
