import ArgumentParser
import BPF
import Deployment
import Engine
import Foundation
import Inspection
import Rewriter

/// Who is to call a rewritten program: `rewrite --target`.
enum RewriteTarget: String, ExpressibleByArgument, CaseIterable {
  case engine
  case kernel
}

/// `xdpbatch rewrite`: the batch form of one program, as a summary, a
/// side-by-side listing, JSON, or a new object file.
struct RewriteCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rewrite",
    abstract: "Rewrite a per-packet XDP program into its batch form (the LPC 2019 trampoline).")

  @Argument(help: "A BPF object file (clang -target bpf -O2 -g).")
  var object: String

  @Option(help: "The program to rewrite (default: the object's only XDP program).")
  var program: String?

  @OptionGroup var rewrite: BatchRewriteOptions

  @Option(help: "The largest batch; the exact count for --bound immediate.")
  var batch = 64

  @Flag(help: "Show the original and rewritten program side by side.")
  var listing = false

  @Flag(help: "Print the summary as one JSON document.")
  var json = false

  @Option(name: .shortAndLong, help: "Write the program to this ELF object file.")
  var output: String?

  @Option(
    help: ArgumentHelp(
      "batch: the rewriter's batch form; per-packet: the program as `attach` loads it (with the action-counting pass and its map), for -o, an object bpftool and libbpf load.",
      valueName: "form"))
  var form: Form = .batch

  @Option(
    help: ArgumentHelp(
      "engine: the engine's batch convention (R2 = the record count); kernel: that of a kernel with the batch patches (R2 = the end of the records, record layout and bpf_xdp_batch_commit from --btf).",
      valueName: "target"))
  var target: RewriteTarget = .engine

  @Option(
    help: ArgumentHelp(
      "--target kernel: the kernel's BTF to read the batch interface from.", valueName: "path"))
  var btf = "/sys/kernel/btf/vmlinux"

  func validate() throws {
    guard (1...PacketRunner.maximumBatch).contains(batch) else {
      throw ValidationError(
        "--batch must be between 1 and \(PacketRunner.maximumBatch), not \(batch)")
    }
    if form == .perPacket {
      guard output != nil else {
        throw ValidationError("--form per-packet writes an object: give -o OUT.o")
      }
      guard !json, !listing, !rewrite.isGiven, batch == 64 else {
        throw ValidationError(
          "--json, --listing, --strategy, --bound and --batch describe the batch form; "
            + "--form per-packet only writes -o")
      }
    }
    if json && listing {
      throw ValidationError("--listing has no place in --json output; give one of them")
    }
    if target == .kernel {
      guard form == .batch else {
        throw ValidationError("--target kernel shapes the batch form; leave out --form per-packet")
      }
      guard rewrite.boundChoice == nil || rewrite.bound == .endPointer, batch == 64 else {
        throw ValidationError(
          "--target kernel: the kernel passes the end of the records (--bound end-pointer) "
            + "and sizes the batch itself; leave out --bound and --batch")
      }
    }
  }

  /// The rewrite for `--target`.
  private func trampoline() throws -> BatchTrampoline {
    switch target {
    case .engine:
      return BatchTrampoline(strategy: rewrite.strategy, bound: rewrite.bound, batchSize: batch)
    case .kernel:
      let interface: KernelBatchInterface
      do {
        interface = try KernelBatchInterface(btf: BTF(contentsOf: btf))
      } catch {
        throw ProgramCommandError("\(btf): \(error)")
      }
      return .kernel(interface, strategy: rewrite.strategy)
    }
  }

  func run() throws {
    let file = try BPFObject(contentsOf: object)
    let original = try file.xdpProgram(named: program ?? file.onlyXDPProgramName(file: object))
    if form == .perPacket, let output {
      try writePerPacket(original.name, to: output)
      return
    }
    let rewritten: BatchProgram
    let trampoline = try trampoline()
    do {
      rewritten = try trampoline.rewrite(original, maps: file.maps)
    } catch {
      throw ProgramCommandError(
        "\(object): program \(original.name): cannot rewrite: \(Self.reason(error, in: original))")
    }
    if let output {
      let bytes: [UInt8]
      do {
        bytes = try ObjectWriter(
          program: rewritten.program, maps: file.maps, license: file.license ?? "GPL"
        ).bytes()
      } catch {
        throw ProgramCommandError("\(object): \(error)")
      }
      try OutputFile.write(bytes, to: output)
    }
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      print(String(decoding: try encoder.encode(rewritten.summary), as: UTF8.self))
      return
    }
    if listing {
      print(BatchListing(original: original, batch: rewritten, maps: file.maps).text)
      print()
    }
    print(Self.summary(rewritten.summary, output: output))
    if target == .kernel {
      print(
        "  for the kernel:   \(trampoline.layout.stride)-byte records, act at "
          + "\(trampoline.layout.action) (\(btf)); load with BPF_F_XDP_BATCH")
    }
  }

  /// Writes `program` as `attach` loads it: the action-counting pass
  /// applied, the counters map appended, BTF-defined maps.
  private func writePerPacket(_ program: String, to output: String) throws {
    let path = URL(fileURLWithPath: object).standardizedFileURL.path
    let request = try ProgramSource(objectPath: path, programName: program).perPacketForm()
    let bytes: [UInt8]
    do {
      bytes = try ObjectWriter(
        program: request.program, maps: request.maps, license: request.license
      ).bytes()
    } catch {
      throw ProgramCommandError("\(object): \(error)")
    }
    try OutputFile.write(bytes, to: output)
    print(
      "\(program): per-packet form with the action-counting pass, "
        + "\(request.program.instructions.count) instructions, written to \(output)")
  }

  /// The rewriter's reason, with the deepest stack access named when the
  /// frame is too large (the one instruction to look at).
  static func reason(_ error: RewriteError, in program: Program) -> String {
    guard case .stackTooLarge = error,
      let deepest = StackFrameAnalysis(program).accesses.min(by: { $0.offset < $1.offset })
    else { return error.description }
    return "instruction \(deepest.index) reaches r10 \(deepest.offset): \(error)"
  }

  /// The figures of a rewrite, one per line.
  static func summary(_ summary: BatchSummary, output: String?) -> String {
    var lines = [
      "\(summary.program): \(summary.strategy) / \(summary.bound)",
      "  instructions:     \(summary.instructionsBefore) -> \(summary.instructionsAfter)",
      "  added once:       \(summary.addedOnce)",
      "  added per packet: \(summary.addedPerPacket)",
      "  stack bytes:      \(summary.stackBytes)",
      "  loop registers:   "
        + (summary.loopRegisters.isEmpty
          ? "none (the program names R6-R9: the loop loads and stores its cursor "
            + "and bound on the stack every packet)"
          : zip(
            summary.loopRegisters, ["cursor", summary.bound == "end-pointer" ? "end" : "counter"]
          )
          .map { "\($0) (\($1))" }.joined(separator: ", ")),
    ]
    if let output { lines.append("  written to:       \(output)") }
    return lines.joined(separator: "\n")
  }
}
