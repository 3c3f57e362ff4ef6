import BPF
import Check
import Engine
import Foundation
import Rewriter
import TestSupport
import Testing

/// `xdpbatch rewrite` and `xdpbatch check` as a user runs them: exit codes,
/// JSON shapes, messages.
@Suite(.enabled(if: BuiltXDPBatch.url != nil, BuiltXDPBatch.missingReason))
struct CommandTests {
  @Test func checkPassesOnTheTailCallObjectAndNamesTheRefusal() throws {
    let sample = Samples.named("xdp_tailcall.o").path
    let program = try BPFObject(contentsOf: sample).program(named: "xdp_tailcall_prog")
    let index = try #require(
      program.instructions.firstIndex {
        $0.isHelperCall && $0.immediate == HelperFunction.tailCall.rawValue
      })
    let whole = try BuiltXDPBatch.run(["check", sample, "--packets", "500"])
    #expect(whole.status == 0, "\(whole.errors)")
    // A refusal beside compared programs is part of the report, printed
    // once: on standard output, not again on standard error.
    #expect(whole.output.contains("xdp_tailcall_prog: refused by the rewriter"))
    #expect(whole.output.contains("instruction \(index) calls bpf_tail_call"))
    #expect(whole.errors.isEmpty)
    let only = try BuiltXDPBatch.run(["check", sample, "--program", "xdp_tailcall_prog"])
    #expect(only.status == 1)
    #expect(only.output.contains("calls bpf_tail_call"))
    #expect(
      only.errors
        == "xdpbatch: error: \(sample): nothing compared: the rewriter refused every variant\n")
  }

  /// A helper's argument 40000 bytes down the stack (the fuzzing of
  /// `make fuzz` found `rewrite` and `check` trapping on it): refused
  /// naming the file, the program, the instruction and the register; exit
  /// 1, and `-o` leaves no file.
  @Test func aHelperArgumentBelowTheStackIsRefusedNotTrappedOn() throws {
    let directory = try temporaryDirectory("below")
    defer { try? FileManager.default.removeItem(at: directory) }
    let program = Program(
      name: "below", sectionName: "xdp",
      instructions: [
        .move(.r1, .r10), .add(.r1, immediate: -40000), .move(.r2, immediate: 4),
        .move(.r3, immediate: 0), .move(.r4, immediate: 0), .move(.r5, immediate: 0),
        .call(helper: HelperFunction.checksumDiff.rawValue), .move(.r0, immediate: 2), .exit,
      ])
    let object = directory.appendingPathComponent("below.o").path
    try Data(try ObjectWriter(program: program, maps: []).bytes()).write(to: URL(fileURLWithPath: object))
    let reason = "instruction 6: the helper's argument r1 points at r10-40000, below the 512-byte stack"
    let output = directory.appendingPathComponent("out.o").path
    let rewrite = try BuiltXDPBatch.run(["rewrite", object, "-o", output])
    #expect(rewrite.status == 1, "\(rewrite.errors)")
    #expect(
      rewrite.errors
        == "xdpbatch: error: \(object): program below: cannot rewrite: cannot prove the stack "
        + "rewrite safe: \(reason)\n")
    #expect(!FileManager.default.fileExists(atPath: output))
    let check = try BuiltXDPBatch.run(["check", object])
    #expect(check.status == 1, "\(check.errors)")
    #expect(check.output.contains("below: refused by the rewriter: cannot prove the stack rewrite safe: \(reason)"))
  }

  @Test func checkJSONCountsEveryVariant() throws {
    let result = try BuiltXDPBatch.run([
      "check", Samples.named("xdp_classify.o").path, "--packets", "700", "--seed", "9", "--json",
    ])
    #expect(result.status == 0, "\(result.errors)")
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
    #expect(document["equivalent"] as? Bool == true)
    let programs = try #require(document["programs"] as? [[String: Any]])
    let program = try #require(programs.first)
    let actions = try #require(program["actions"] as? [String: [String: Int]])
    #expect(Set(actions.keys) == ["aborted", "drop", "pass", "tx", "redirect"])
    #expect(actions.values.reduce(0) { $0 + ($1["packets"] ?? 0) } == 700)
    let variants = try #require(program["variants"] as? [[String: Any]])
    #expect(variants.count == 6)
    for variant in variants {
      #expect(variant["packets"] as? Int == 700)
      #expect(variant["mismatches"] as? Int == 0)
    }
  }

  @Test(arguments: BatchVariant.all)
  func rewriteJSONMatchesTheAPI(_ variant: BatchVariant) throws {
    let sample = Samples.named("xdp1.o").path
    let result = try BuiltXDPBatch.run([
      "rewrite", sample, "--program", "xdp_prog1", "--strategy", variant.strategy.rawValue,
      "--bound", variant.bound.rawValue, "--json",
    ])
    #expect(result.status == 0, "\(result.errors)")
    let decoded = try JSONDecoder().decode(BatchSummary.self, from: Data(result.output.utf8))
    let program = try BPFObject(contentsOf: sample).program(named: "xdp_prog1")
    #expect(decoded == (try variant.trampoline(batchSize: 64).rewrite(program).summary))
    let keys = try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
    ).keys
    #expect(
      Set(keys) == [
        "program", "strategy", "bound", "instructions_before", "instructions_after", "added_once",
        "added_per_packet", "stack_bytes", "loop_registers",
      ])
    // xdp1 names none of R6 - R9: the loop keeps its cursor and its bound
    // in the first two.
    #expect(decoded.loopRegisters == ["r6", "r7"])
  }

  @Test func listingMarksEveryPiece() throws {
    let result = try BuiltXDPBatch.run([
      "rewrite", Samples.named("xdp_classify.o").path, "--program", "xdp_classify_prog",
      "--strategy", "shift", "--listing",
    ])
    #expect(result.status == 0, "\(result.errors)")
    let marks = result.output.split(separator: "\n").compactMap { line -> Character? in
      let characters = Array(line)
      guard characters.count > 40 else { return nil }
      return characters.dropFirst(30).first { "PETSAX".contains($0) }
    }
    for mark in "PETSX" { #expect(marks.contains(mark), "no \(mark) row") }
    #expect(result.output.contains("map[redirect_ifindex]"))
    #expect(result.output.contains("added per packet"))
  }

  @Test func rewriteWritesAnObjectThatChecksAgain() throws {
    let directory = try temporaryDirectory("rewrite-o")
    defer { try? FileManager.default.removeItem(at: directory) }
    let output = directory.appendingPathComponent("batch.o").path
    let result = try BuiltXDPBatch.run([
      "rewrite", Samples.named("xdp_calls.o").path, "--program", "xdp_calls_prog", "-o", output,
    ])
    #expect(result.status == 0, "\(result.errors)")
    let reread = try BPFObject(contentsOf: output)
    #expect(reread.programNames == ["xdp_calls_prog"])
    #expect(try reread.program(named: "xdp_calls_prog").subprograms.count == 2)
  }

  @Test func rewriteRefusalsExitOneNamingFileProgramAndIndex() throws {
    let sample = Samples.named("xdp_tailcall.o").path
    let tail = try BuiltXDPBatch.run(["rewrite", sample, "--program", "xdp_tailcall_prog"])
    #expect(tail.status == 1)
    #expect(tail.errors.contains(sample))
    #expect(tail.errors.contains("program xdp_tailcall_prog"))
    #expect(tail.errors.contains("calls bpf_tail_call"))

    // A frame of 512 bytes leaves no room for the loop's 8 (the record
    // count; the cursor and the end go to registers the program leaves).
    let directory = try temporaryDirectory("deep-stack")
    defer { try? FileManager.default.removeItem(at: directory) }
    let deep = Program(
      name: "deep", sectionName: "xdp",
      instructions: [
        .store(.doubleWord, immediate: 0, to: .r10, offset: -512), .move(.r0, immediate: 2), .exit,
      ])
    let file = directory.appendingPathComponent("deep.o")
    try Data(ObjectWriter(program: deep, maps: []).bytes()).write(to: file)
    let stack = try BuiltXDPBatch.run(["rewrite", file.path, "--program", "deep"])
    #expect(stack.status == 1)
    #expect(stack.errors.contains("program deep"))
    #expect(stack.errors.contains("512 bytes of stack; 8 more"))
    #expect(stack.errors.contains("instruction 0 reaches r10 -512"))
    let usage = try BuiltXDPBatch.run([
      "rewrite", sample, "--program", "x", "--bound", "never",
    ])
    #expect(usage.status == 2)
  }
}
