import BPF

/// The bpf_conformance plugin protocol: a program as hex bytes, optional
/// memory as hex bytes; R1 = a writable copy of the memory (0 when there is
/// none), R2 = its length; helper 5 returns R1 (uBPF's `unwind` test
/// helper); the result is R0.
public enum ConformanceRun {
  /// Runs one conformance program and returns R0.
  ///
  /// - Throws: ``ConformanceError`` naming what was wrong: the hex text,
  ///   the program, or the run.
  public static func execute(
    programHex: String, memoryHex: String?, engine: EngineKind = .platformDefault
  ) throws(ConformanceError) -> UInt64 {
    guard let code = HexBytes.parse(programHex) else { throw .malformedHex("program") }
    guard let memory = HexBytes.parse(memoryHex ?? "") else { throw .malformedHex("memory") }
    let instructions: [Instruction]
    do {
      instructions = try Instruction.decode(littleEndian: code)
    } catch {
      throw .preparation(.invalidInstruction(error))
    }
    return try execute(instructions, memory: memory, engine: engine)
  }

  /// Runs decoded instructions over `memory` and returns R0.
  public static func execute(
    _ instructions: [Instruction], memory: [UInt8], engine: EngineKind = .platformDefault
  ) throws(ConformanceError) -> UInt64 {
    let machine: Machine
    do {
      machine = try Machine(
        configuration: MachineConfiguration(conformanceHelpers: true, engine: engine))
    } catch {
      throw .machine(error.description)
    }
    let program: PreparedProgram
    do {
      program = try machine.prepare(instructions: instructions, name: "conformance")
    } catch {
      throw .preparation(error)
    }
    var address: UInt64 = 0
    if !memory.isEmpty {
      do {
        address = UInt64(try machine.addressSpace.map(length: memory.count, name: "memory").start)
      } catch {
        throw .machine(error.description)
      }
      machine.addressSpace.write(memory, at: address)
      machine.legacyPacket = (address, address + UInt64(memory.count))
    }
    do {
      return try machine.run(program, r1: address, r2: UInt64(memory.count))
    } catch {
      throw .execution(error)
    }
  }
}

/// Why a conformance program did not produce a result.
public enum ConformanceError: Error, Equatable, Sendable {
  /// The named input is not a list of hex bytes.
  case malformedHex(String)
  /// The program was refused before it ran.
  case preparation(PreparationError)
  /// The run stopped with an error.
  case execution(ExecutionError)
  /// The machine could not be built.
  case machine(String)
}

extension ConformanceError: CustomStringConvertible {
  /// A one-line message.
  public var description: String {
    switch self {
    case .malformedHex(let what): "\(what) is not hex bytes (expected e.g. \"b7 00 00 00 ...\")"
    case .preparation(let error): "invalid program: \(error)"
    case .execution(let error): "execution failed: \(error)"
    case .machine(let message): message
    }
  }
}

/// Hex text as bpf_conformance writes it: bytes separated by white space
/// (`b7 00 01`), or runs of digits read two at a time (`b70001`), each
/// token optionally prefixed with `0x`.
public enum HexBytes {
  /// The bytes, or nil when a token is not hex or has an odd length.
  public static func parse(_ text: String) -> [UInt8]? {
    var bytes: [UInt8] = []
    for token in text.split(whereSeparator: { $0.isWhitespace }) {
      var digits = Substring(token)
      if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
      if digits.count == 1 { digits = "0" + digits }
      guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
      var index = digits.startIndex
      while index != digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
        bytes.append(byte)
        index = next
      }
    }
    return bytes
  }
}
