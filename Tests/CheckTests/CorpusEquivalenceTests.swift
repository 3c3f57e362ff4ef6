import BPF
import Check
import Engine
import Foundation
import Rewriter
import TestSupport
import Testing

/// The rewriter's corpus (Corpus/*.bpf.c, programs written for these
/// tests: stack arrays with masked and loop indices, programs that count
/// every frame, subprograms with early exits, packet adjustments before an
/// early exit): no variant is refused, and every variant is equivalent to
/// the per-packet form. README's "Rewriter figures" gives the longer run.
@Suite struct CorpusEquivalenceTests {
  static let packets = 6_000

  /// The suite fails, not skips, when it would test nothing or less.
  @Test func everyCorpusObjectIsCompiledAndRead() {
    #expect(!Corpus.programs.isEmpty, Comment(rawValue: PackageLayout.corpusMissing))
    #expect(Corpus.listing.unreadable == [])
  }

  @Test(arguments: Corpus.programs)
  func everyVariantIsBuiltAndMatchesPerPacket(_ entry: Corpus.Entry) throws {
    let object = try BPFObject(contentsOf: entry.path)
    let program = try object.xdpProgram(named: entry.program)
    let result = try EquivalenceCheck(packets: Self.packets, seed: 0xc0de).run(
      program, maps: object.maps)
    #expect(result.variants.count == BatchVariant.all.count)
    for outcome in result.variants {
      #expect(
        outcome.refusal == nil,
        "\(entry) \(outcome.variant): \(String(describing: outcome.refusal))")
      #expect(outcome.packets == Self.packets, "\(entry) \(outcome.variant)")
      #expect(
        outcome.mismatches == 0,
        "\(entry) \(outcome.variant): \(String(describing: outcome.firstDifference))")
    }
  }

  /// The programs that count every frame, with every largest batch size
  /// from 1 to 64 (batches of random sizes up to it): the immediate bound
  /// pads, and the padding never reaches the program.
  @Test(arguments: 1...64)
  func frameCountersAreEquivalentWithBatchSize(_ size: Int) throws {
    let path = PackageLayout.corpus("corpus_every_frame")
    let object = try BPFObject(contentsOf: path)
    var check = EquivalenceCheck(packets: 130, seed: UInt64(size) &* 7919, batchSize: size)
    check.chunkSize = 65
    for program in try object.programs() {
      let result = try check.run(program, maps: object.maps)
      for outcome in result.variants {
        #expect(outcome.refusal == nil, "\(program.name) \(outcome.variant)")
        #expect(
          outcome.mismatches == 0,
          "\(program.name) batch \(size) \(outcome.variant): \(String(describing: outcome.firstDifference))"
        )
      }
    }
  }
}

/// The compiled corpus (`make corpus`).
enum Corpus {
  /// One XDP program of one corpus object.
  struct Entry: CustomStringConvertible, Sendable {
    var path: String
    var program: String
    var description: String { "\(URL(fileURLWithPath: path).lastPathComponent):\(program)" }
  }

  /// Every XDP program of every compiled corpus object, and the objects
  /// that could not be read.
  static let listing = ProgramListing(objects: PackageLayout.corpusObjects) { url in
    try BPFObject(contentsOf: url.path).programEntries.filter(\.isXDP).map {
      Entry(path: url.path, program: $0.name)
    }
  }

  static var programs: [Entry] { listing.programs }
}
