import BPF
import Foundation
import Testing

/// The project's JSON spelling: snake_case keys from Swift names both
/// ways, acronyms (`ID`, `CPU`) included, explicit names for the keys
/// whose JSON name is another word.
@Suite struct JSONCodingTests {
  struct Reading: Codable, Equatable {
    var programID: UInt32
    var perCPU: [Int]
    var zeroCopy: Bool
    var transmitFailed: Int
    var rates: [String: Int]

    private enum CodingKeys: String, CodingKey {
      case programID, perCPU, zeroCopy, rates
      case transmitFailed = "txFailed"
    }
  }

  @Test func keysAreSnakeCaseBothWays() throws {
    let reading = Reading(
      programID: 7, perCPU: [1, 2], zeroCopy: true, transmitFailed: 3, rates: ["myProg": 1])
    let text = JSONCoding.line(reading)
    #expect(
      text
        == #"{"per_cpu":[1,2],"program_id":7,"rates":{"myProg":1},"tx_failed":3,"zero_copy":true}"#,
      "dictionary keys (names) are left as they are")
    let decoded = try JSONCoding.decoder().decode(Reading.self, from: Data(text.utf8))
    #expect(decoded == reading)
  }

  @Test func snakeCaseKeysBecomeTheSwiftNames() {
    #expect(JSONCoding.snakeCaseKey("program_id") == "programID")
    #expect(JSONCoding.snakeCaseKey("per_cpu") == "perCPU")
    #expect(JSONCoding.snakeCaseKey("moved_from_kernel") == "movedFromKernel")
    #expect(JSONCoding.snakeCaseKey("per-packet") == "per-packet")
    #expect(JSONCoding.snakeCaseKey("mode") == "mode")
  }
}
