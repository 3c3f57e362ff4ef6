import BPF
import Foundation
import Testing

/// The bundled samples, compiled by `make samples` into `build/samples`.
enum Samples {
  static let directory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("build/samples")

  /// Every compiled sample, sorted; empty before `make samples`.
  static let all: [URL] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".o") }.sorted().map { directory.appendingPathComponent($0) }
  }()

  static let missingReason: Comment = "no sample objects in build/samples (run `make samples`)"

  /// One sample by file name.
  static func named(_ name: String) -> URL { directory.appendingPathComponent(name) }
}

/// A fresh temporary directory.
func temporaryDirectory(_ label: String) throws -> URL {
  let directory = FileManager.default.temporaryDirectory
    .appendingPathComponent("xdpbatch-\(label)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  return directory
}

/// What a finished process left.
struct ProcessResult {
  var status: Int32
  var output: String
  var errors: String
}

/// Runs a program to completion.
func runProcess(_ executable: URL, _ arguments: [String]) throws -> ProcessResult {
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  let output = Pipe()
  let errors = Pipe()
  process.standardOutput = output
  process.standardError = errors
  try process.run()
  let outputData = output.fileHandleForReading.readDataToEndOfFile()
  let errorData = errors.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return ProcessResult(
    status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
    errors: String(decoding: errorData, as: UTF8.self))
}

/// The built `xdpbatch` executable, beside the test bundle.
enum XDPBatchExecutable {
  static let url: URL? = {
    var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
      .deletingLastPathComponent()
    for _ in 0..<3 {
      let candidate = directory.appendingPathComponent("xdpbatch")
      if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
      directory = directory.deletingLastPathComponent()
    }
    return nil
  }()

  static let missingReason: Comment = "xdpbatch executable not built (swift build)"

  static func run(_ arguments: [String]) throws -> ProcessResult {
    try runProcess(try #require(url), arguments)
  }
}

/// The toolchain's `llvm-objdump` (LLVM 19 or newer prints the syntax our
/// disassembler follows).
enum Objdump {
  static let url: URL? = {
    var candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
      .map(String.init)
    candidates.append("/opt/swift/usr/bin")
    for directory in candidates {
      let tool = URL(fileURLWithPath: directory).appendingPathComponent("llvm-objdump")
      guard FileManager.default.isExecutableFile(atPath: tool.path),
        let version = try? runProcess(tool, ["--version"]).output,
        let range = version.range(of: "LLVM version "),
        let major = Int(version[range.upperBound...].prefix { $0.isNumber }), major >= 19
      else { continue }
      return tool
    }
    return nil
  }()

  static let missingReason: Comment = "no llvm-objdump >= 19 (the Swift toolchain's)"

  /// Instruction texts per section, from `llvm-objdump -d`: objdump's text
  /// after the raw bytes, without the symbolized jump target `<...>`.
  static func listing(of object: URL) throws -> [String: [(index: Int, text: String)]] {
    let result = try runProcess(try #require(url), ["-d", "--print-imm-hex", object.path])
    #expect(result.status == 0, "llvm-objdump failed: \(result.errors)")
    var sections: [String: [(index: Int, text: String)]] = [:]
    var current = ""
    for line in result.output.split(separator: "\n", omittingEmptySubsequences: true) {
      if line.hasPrefix("Disassembly of section ") {
        current = String(line.dropFirst("Disassembly of section ".count).dropLast())
        continue
      }
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
      guard fields.count >= 3,
        let index = Int(fields[0].trimmingCharacters(in: .whitespaces).dropLast())
      else { continue }
      var text = String(fields[2])
      if let symbol = text.range(of: " <", options: .backwards), text.hasSuffix(">") {
        text = String(text[..<symbol.lowerBound])
      }
      sections[current, default: []].append((index, text))
    }
    return sections
  }
}
