import BPF
import Engine
import Foundation
import Testing

/// One bpf_conformance `.data` vector: program, memory, expected result.
struct ConformanceVector: CustomStringConvertible, Sendable {
  var name: String
  var program: [UInt8]
  var memory: [UInt8]
  var result: UInt64

  var description: String { name }

  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Conformance")

  /// Every `.data` file in Tests/EngineTests/Conformance, by name.
  static let files: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.filter { $0.hasSuffix(".data") }.sorted()
  }()

  /// Each file's vector, or nil where it could not be read or parsed.
  static let parsed: [(file: String, vector: ConformanceVector?)] = files.map { name in
    let text = try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    return (name, text.flatMap { parse($0, name: String(name.dropLast(5))) })
  }

  /// Every vector that parsed (``unparsed`` names the others).
  static let all: [ConformanceVector] = parsed.compactMap(\.vector)

  /// The files that did not parse: a test fails naming them.
  static let unparsed: [String] = parsed.filter { $0.vector == nil }.map(\.file)

  /// Parses the `-- raw`, `-- mem` and `-- result` sections.
  static func parse(_ text: String, name: String) -> ConformanceVector? {
    var section = ""
    var program: [UInt8] = []
    var memory: [UInt8] = []
    var result: UInt64?
    for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
      if line.hasPrefix("--") {
        section = String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces)
        continue
      }
      guard !line.isEmpty, !line.hasPrefix("#") else { continue }
      switch section {
      case "raw":
        guard let slot = UInt64(line.dropFirst(2), radix: 16) else { return nil }
        program += withUnsafeBytes(of: slot.littleEndian) { Array($0) }
      case "mem": memory += HexBytes.parse(line) ?? []
      case "result":
        result = line.hasPrefix("0x") ? UInt64(line.dropFirst(2), radix: 16) : UInt64(line)
      default: break
      }
    }
    guard let result, !program.isEmpty else { return nil }
    return ConformanceVector(name: name, program: program, memory: memory, result: result)
  }
}

/// The built `xdpbatch` executable, beside the test bundle.
func builtExecutable() -> URL? {
  let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
  var directory = bundle.deletingLastPathComponent()
  for _ in 0..<3 {
    let candidate = directory.appendingPathComponent("xdpbatch")
    if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    directory = directory.deletingLastPathComponent()
  }
  return nil
}

/// Runs `xdpbatch exec` with the program on stdin; returns (exit code, stdout).
func runExec(program: [UInt8], memory: [UInt8], engine: EngineKind? = nil) throws -> (
  Int32, String
) {
  guard let executable = builtExecutable() else {
    Issue.record("xdpbatch executable not found next to the test bundle; run swift build first")
    return (-1, "")
  }
  let process = Process()
  process.executableURL = executable
  let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined(separator: " ") }
  process.arguments = ["exec", hex(memory)] + (engine.map { ["--engine", $0.rawValue] } ?? [])
  let input = Pipe()
  let output = Pipe()
  process.standardInput = input
  process.standardOutput = output
  try process.run()
  input.fileHandleForWriting.write(Data((hex(program) + "\n").utf8))
  try input.fileHandleForWriting.close()
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite("Conformance vectors")
struct ConformanceTests {
  @Test("the vector folder covers every RFC 9669 opcode")
  func coversOpcodes() {
    let used = Set(
      ConformanceVector.all.flatMap { vector in
        stride(from: 0, to: vector.program.count, by: 8).map { vector.program[$0] }
      })
    let expected: [UInt8] = [
      0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77,
      0x7f, 0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0xd7, 0x04, 0x0c, 0x14, 0x1c,
      0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c, 0x54, 0x5c, 0x64, 0x6c, 0x74, 0x7c, 0x84, 0x94, 0x9c,
      0xa4, 0xac, 0xb4, 0xbc, 0xc4, 0xcc, 0xd4, 0xdc, 0x05, 0x06, 0x85, 0x95, 0x18, 0x20, 0x28,
      0x30, 0x40, 0x48, 0x50, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a,
      0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb,
    ]
    let conditional: [UInt8] = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]
    let jumps = conditional.flatMap { [$0 | 0x05, $0 | 0x0d, $0 | 0x06, $0 | 0x0e] }
    #expect(ConformanceVector.files.count >= 90)
    #expect(ConformanceVector.unparsed.isEmpty, "unparsable: \(ConformanceVector.unparsed)")
    #expect(Set(expected + jumps).subtracting(used).isEmpty)
  }

  @Test(
    "each vector through the API, in each engine", arguments: ConformanceVector.all,
    EngineKind.allCases)
  func api(_ vector: ConformanceVector, _ engine: EngineKind) throws {
    let result = try ConformanceRun.execute(
      programHex: vector.program.map { String($0, radix: 16) }.joined(separator: " "),
      memoryHex: vector.memory.map { String($0, radix: 16) }.joined(separator: " "),
      engine: engine)
    #expect(result == vector.result)
  }

  @Test(
    "each vector through xdpbatch exec, in each engine", arguments: ConformanceVector.all,
    EngineKind.allCases)
  func executable(_ vector: ConformanceVector, _ engine: EngineKind) throws {
    let (status, output) = try runExec(
      program: vector.program, memory: vector.memory, engine: engine)
    #expect(status == 0)
    #expect(output == String(vector.result, radix: 16) + "\n")
  }

  @Test("exec reports a fault on one line and exits 1")
  func execFailure() throws {
    // ldxw r0, [r1+100] with 4 bytes of memory; exit.
    let program: [UInt8] = [0x61, 0x10, 100, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]
    let (status, output) = try runExec(program: program, memory: [1, 2, 3, 4])
    #expect(status == 1)
    #expect(output.split(separator: "\n").count == 1)
    #expect(output.contains("instruction 0"))
    #expect(output.contains("out of bounds"))
  }

  @Test("hex input accepts spaced, packed and 0x-prefixed bytes")
  func hexForms() {
    #expect(HexBytes.parse("b7 00  0x01\n") == [0xb7, 0x00, 0x01])
    #expect(HexBytes.parse("b70001") == [0xb7, 0x00, 0x01])
    #expect(HexBytes.parse("b7 0g") == nil)
    #expect(HexBytes.parse("b70") == nil)
  }
}
