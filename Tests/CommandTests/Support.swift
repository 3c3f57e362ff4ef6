import Foundation
import Testing

/// The built `xdpbatch` executable (beside the test bundle) and the
/// compiled samples, for tests that run the command line as a user would.
enum Command {
  static let executable: URL? = {
    var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
      .deletingLastPathComponent()
    for _ in 0..<3 {
      let candidate = directory.appendingPathComponent("xdpbatch")
      if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
      directory = directory.deletingLastPathComponent()
    }
    return nil
  }()

  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // CommandTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()

  static func sample(_ name: String) -> String {
    packageRoot.appendingPathComponent("build/samples/\(name).o").path
  }

  static var ready: Bool {
    executable != nil && FileManager.default.fileExists(atPath: sample("xdp_classify"))
  }

  static let missingReason: Comment =
    "needs the built xdpbatch (swift build) and the samples (make samples)"

  struct Result {
    var status: Int32
    var output: String
    var errors: String

    /// The output parsed as a JSON object.
    func json() throws -> [String: Any] {
      let object = try JSONSerialization.jsonObject(with: Data(output.utf8))
      return try #require(object as? [String: Any], "not a JSON object: \(output.prefix(200))")
    }
  }

  static func run(_ arguments: [String]) throws -> Result {
    let process = Process()
    process.executableURL = try #require(executable)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self),
      errors: String(decoding: errorData, as: UTF8.self))
  }
}

/// A classic pcap file (little-endian, microseconds, Ethernet), written
/// here byte by byte rather than with the engine's own encoder.
func pcapBytes(_ frames: [[UInt8]]) -> [UInt8] {
  func le32(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
  }
  func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
  var bytes = le32(0xa1b2_c3d4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(65535) + le32(1)
  for (index, frame) in frames.enumerated() {
    bytes += le32(UInt32(index)) + le32(0) + le32(UInt32(frame.count)) + le32(UInt32(frame.count))
    bytes += frame
  }
  return bytes
}

/// Writes `bytes` to a fresh temporary file and returns its path.
func temporaryFile(_ bytes: [UInt8], name: String) throws -> String {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("xdpbatch-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))-\(name)")
  try Data(bytes).write(to: url)
  return url.path
}
