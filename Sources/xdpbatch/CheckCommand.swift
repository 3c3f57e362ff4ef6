import ArgumentParser
import BPF
import Check
import Engine
import Foundation
import Rewriter

/// `xdpbatch check`: runs each program per packet and in every batch form
/// (strategy x bound) in the engine over the same generated packets, in
/// batches of random sizes, and compares verdicts, output bytes, redirect
/// targets and map contents.
///
/// Exit status: 1 when any batch form differs from the per-packet form
/// (the first differing packet is named), or when nothing could be
/// compared because the rewriter refused every variant of every selected
/// program. A refusal next to programs that were compared (the tail-call
/// sample's `xdp_tailcall_prog` beside `xdp_tailcall_target`, or `shift`
/// refused where `reserve` works) is reported with its reason and is not a
/// failure: the rewriter never hands out a batch form for it, so there is
/// no batch form that could differ.
struct CheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Check that every batch form of a program behaves as the per-packet form.")

  @Argument(help: "A BPF object file (clang -target bpf -O2 -g).")
  var object: String

  @Option(help: "Only this program (default: every XDP program in the object).")
  var program: String?

  @Option(help: "Packets to run through each form.")
  var packets = 10_000

  @Option(help: "Seed of the generated frames and batch sizes.")
  var seed: UInt64 = 1

  @Option(help: "The largest batch (batches are drawn from 1...N).")
  var batch = PacketRunner.maximumBatch

  @Flag(help: "Print one JSON document instead of a table.")
  var json = false

  @OptionGroup var engineOption: EngineOption

  @OptionGroup var memory: MemoryOption

  func validate() throws {
    guard packets > 0 else { throw ValidationError("--packets must be positive") }
    guard (1...PacketRunner.maximumBatch).contains(batch) else {
      throw ValidationError("--batch must be between 1 and \(PacketRunner.maximumBatch)")
    }
  }

  func run() throws {
    memory.apply()
    let file = try BPFObject(contentsOf: object)
    let programs = try selectedPrograms(in: file)
    var check = EquivalenceCheck(packets: packets, seed: seed, batchSize: batch)
    check.engine = engineOption.engine
    var results: [ProgramEquivalence] = []
    for program in programs {
      do {
        results.append(try check.run(program, maps: file.maps))
      } catch {
        throw ProgramCommandError("\(object): program \(program.name): \(error)")
      }
    }
    if json {
      print(try CheckReport(object: object, seed: seed, results: results).jsonText())
    } else {
      for (position, result) in results.enumerated() {
        if position > 0 { print() }
        print(Self.table(result))
      }
    }
    // Refusals are part of the report above; only failures go to stderr,
    // once each.
    for result in results {
      for outcome in result.variants {
        guard let difference = outcome.firstDifference else { continue }
        writeToStandardError(
          "xdpbatch: error: \(object): program \(result.program) (\(outcome.variant)): \(difference)"
        )
      }
    }
    if results.contains(where: { !$0.isEquivalent }) { throw ExitCode.failure }
    if results.allSatisfy(\.isRefused) {
      throw ProgramCommandError(
        "\(object): nothing compared: the rewriter refused every variant")
    }
  }

  /// The named program, or every XDP program of the object.
  private func selectedPrograms(in file: BPFObject) throws -> [Program] {
    if let program { return [try file.xdpProgram(named: program)] }
    let programs = try file.programs().filter { Program.isXDPSection($0.sectionName) }
    guard !programs.isEmpty else {
      throw ProgramCommandError("\(object): no XDP program (section xdp, xdp/..., xdp.frags)")
    }
    return programs
  }

  /// Refusals and first differences, one line each; a refusal shared by
  /// every variant is said once.
  static func problems(_ result: ProgramEquivalence) -> [String] {
    if result.isRefused, let refusal = result.variants.first?.refusal,
      result.variants.allSatisfy({ $0.refusal == refusal })
    {
      return [": refused by the rewriter: \(refusal)"]
    }
    return result.variants.compactMap { outcome in
      if let refusal = outcome.refusal { return " (\(outcome.variant)): refused: \(refusal)" }
      return outcome.firstDifference.map { " (\(outcome.variant)): \($0)" }
    }
  }

  /// One row per variant: packets, mismatches, added instructions per packet.
  static func table(_ result: ProgramEquivalence) -> String {
    if result.isRefused, let line = problems(result).first, result.variants.count > 1,
      problems(result).count == 1
    {
      return "\(result.program)\(line)"
    }
    var rows = [["VARIANT", "PACKETS", "MISMATCHES", "ADDED/PACKET", "RESULT"]]
    for outcome in result.variants {
      let verdict: String
      if let refusal = outcome.refusal {
        verdict = "refused: \(refusal)"
      } else if let difference = outcome.firstDifference {
        verdict = "DIFFERS: \(difference)"
      } else {
        verdict = "equivalent"
      }
      rows.append([
        outcome.variant.description, outcome.refusal == nil ? String(outcome.packets) : "-",
        outcome.refusal == nil ? String(outcome.mismatches) : "-",
        outcome.summary.map { String($0.addedPerPacket) } ?? "-", verdict,
      ])
    }
    let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
    let lines = rows.map { row in
      row.enumerated().map { column, cell in
        column == row.count - 1
          ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }
    return "\(result.program): \(result.packets) packets per form\n" + lines.joined(separator: "\n")
  }
}
