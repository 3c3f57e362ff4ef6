import Foundation
import TestSupport
import Testing

/// The built `xdpbatch` executable and the compiled samples, for tests that
/// run the command line as a user would.
enum Command {
  static func sample(_ name: String) -> String { PackageLayout.sample(name) }

  static var ready: Bool {
    BuiltXDPBatch.url != nil && FileManager.default.fileExists(atPath: sample("xdp_classify"))
  }

  static let missingReason: Comment =
    "needs the built xdpbatch (swift build) and the samples (make samples)"

  static func run(_ arguments: [String]) throws -> ProcessResult {
    try BuiltXDPBatch.run(arguments)
  }
}

extension ProcessResult {
  /// The output parsed as a JSON object.
  func json() throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(output.utf8))
    return try #require(object as? [String: Any], "not a JSON object: \(output.prefix(200))")
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
