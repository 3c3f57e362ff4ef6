import BPF
import Check
import Engine
import Foundation

/// `xdpbatch check --json`: one document for every program checked.
///
/// `{"object", "seed", "equivalent", "programs": [{"program", "packets",
/// "actions", "refused", "variants": [{"variant", "strategy", "bound",
/// "packets", "mismatches", "added_per_packet", "first_difference",
/// "refusal"}]}]}`; `actions` has docs/DESIGN.md's shape and counts the
/// per-packet form's verdicts.
struct CheckReport: Encodable {
  var object: String
  var seed: UInt64
  var equivalent: Bool
  var programs: [ProgramEntry]

  struct ProgramEntry: Encodable {
    var program: String
    var packets: Int
    var actions: ActionCounts
    var refused: Bool
    var variants: [VariantEntry]
  }

  struct VariantEntry: Encodable {
    var variant: String
    var strategy: String
    var bound: String
    var packets: Int
    var mismatches: Int
    var addedPerPacket: Int?
    var firstDifference: String?
    var refusal: String?

    enum CodingKeys: String, CodingKey {
      case variant, strategy, bound, packets, mismatches, refusal
      case addedPerPacket = "added_per_packet"
      case firstDifference = "first_difference"
    }
  }

  init(object: String, seed: UInt64, results: [ProgramEquivalence]) {
    self.object = object
    self.seed = seed
    equivalent = results.allSatisfy(\.isEquivalent)
    programs = results.map { result in
      ProgramEntry(
        program: result.program, packets: result.packets,
        actions: result.actions,
        refused: result.isRefused,
        variants: result.variants.map { outcome in
          VariantEntry(
            variant: outcome.variant.description, strategy: outcome.variant.strategy.rawValue,
            bound: outcome.variant.bound.rawValue, packets: outcome.packets,
            mismatches: outcome.mismatches, addedPerPacket: outcome.summary?.addedPerPacket,
            firstDifference: outcome.firstDifference?.description,
            refusal: outcome.refusal?.description)
        })
    }
  }

  /// Pretty-printed, keys sorted.
  func jsonText() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }
}
