import BPF
import Check
import Engine
import Foundation
import Rewriter
import TestSupport
import Testing

/// `xdpbatch rewrite -o`: the object written for each batch form reads back
/// through ``BPFObject`` as the same program and maps, and `llvm-objdump -d`
/// prints what our disassembler prints for its sections.
@Suite struct ObjectWriterTests {
  /// Every rewritable program of every sample, in every variant. A
  /// program is refused exactly when it calls `bpf_tail_call` (at its
  /// first call, in every variant); any other refusal, or none there,
  /// fails the test that asks.
  static func rewrites() throws -> [(String, Program, BatchProgram, BPFObject)] {
    try Samples.expectEveryOneCompiled()
    var result: [(String, Program, BatchProgram, BPFObject)] = []
    for sample in Samples.all {
      let object = try BPFObject(contentsOf: sample.path)
      for program in try object.programs() {
        let tailCall = program.instructions.firstIndex {
          $0.isHelperCall && $0.immediate == HelperFunction.tailCall.rawValue
        }
        for variant in BatchVariant.all {
          let label = "\(sample.lastPathComponent) \(program.name) \(variant)"
          do throws(RewriteError) {
            let batch = try variant.trampoline(batchSize: 64).rewrite(program)
            #expect(tailCall == nil, "\(label) calls bpf_tail_call and was rewritten")
            result.append((label, program, batch, object))
          } catch {
            #expect(error == .tailCall(index: tailCall ?? -1), "\(label): \(error)")
          }
        }
      }
    }
    return result
  }

  @Test func rewrittenProgramsReadBack() throws {
    let directory = try temporaryDirectory("writer")
    defer { try? FileManager.default.removeItem(at: directory) }
    let rewrites = try Self.rewrites()
    // The samples hold 9 XDP programs; xdp_tailcall_prog calls
    // bpf_tail_call and is refused in all 6 variants (checked above).
    #expect(rewrites.count == 8 * BatchVariant.all.count)
    for (label, _, batch, object) in rewrites {
      let bytes = try ObjectWriter(program: batch.program, maps: object.maps).bytes()
      let reread = try BPFObject(bytes: bytes, name: label)
      let program = try reread.program(named: batch.program.name)
      #expect(program.instructions == batch.program.instructions, "\(label)")
      #expect(program.mainLength == batch.program.mainLength, "\(label)")
      #expect(program.subprograms == batch.program.subprograms, "\(label)")
      #expect(program.sectionName == batch.program.sectionName, "\(label)")
      #expect(reread.maps == object.maps, "\(label)")
      #expect(reread.license == "GPL", "\(label)")
      #expect(reread.programNames == [batch.program.name], "\(label)")
      let entry: Set<Register> = batch.summary.bound == "immediate" ? [.r1] : [.r1, .r2]
      #expect(
        batch.summary.stackBytes
          == StackFrameAnalysis(batch.program, entryRegisters: entry).stackDepth, "\(label)")
    }
  }

  @Test(.enabled(if: LLVMToolchain.found != nil, LLVMToolchain.missingReason))
  func objdumpPrintsWhatWeDisassemble() throws {
    let directory = try temporaryDirectory("objdump")
    defer { try? FileManager.default.removeItem(at: directory) }
    var compared = 0
    for (position, (label, _, batch, object)) in try Self.rewrites().enumerated() {
      let file = directory.appendingPathComponent("batch\(position).o")
      try Data(ObjectWriter(program: batch.program, maps: object.maps).bytes()).write(to: file)
      let listing = try #require(LLVMToolchain.found).disassemble(file)
      let reread = try BPFObject(contentsOf: file.path)
      #expect(
        Set(listing.sections.map(\.name)) == Set(reread.executableSections.map(\.name)),
        "\(label)")
      for section in reread.executableSections {
        let ours = Disassembler().lines(section.instructions)
        let theirs = listing.section(named: section.name)?.lines ?? []
        #expect(ours.count == theirs.count, "\(label) \(section.name)")
        for (mine, other) in zip(ours, theirs) {
          #expect(
            mine.index == other.index && mine.text == other.text,
            "\(label) \(section.name) \(mine.index)")
          compared += 1
        }
      }
    }
    #expect(compared > 1_000)
  }

  @Test func globalDataIsRefusedByName() throws {
    let data = MapDefinition(
      name: "obj.rodata", type: .array, keySize: 4, valueSize: 4, maxEntries: 1,
      initialValue: [0, 0, 0, 0])
    let program = Program(
      name: "p", sectionName: "xdp", instructions: [.move(.r0, immediate: 2), .exit])
    #expect(throws: ObjectWriterError.globalDataUnsupported(map: "obj.rodata")) {
      try ObjectWriter(program: program, maps: [data]).bytes()
    }
  }
}
