import ArgumentParser
import BPF
import Engine
import Inspection
import Rewriter

/// `xdpbatch disasm`: each program's linked instructions, in the syntax of
/// `llvm-objdump -d`, with map references and subprogram calls by name.
struct DisasmCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "disasm",
    abstract: "Print each program's linked instructions, with maps and calls by name."
  )

  @Argument(help: "A BPF object file (clang -target bpf -O2 -g).")
  var object: String

  @Option(help: "Only this program (default: every program in the object).")
  var program: String?

  @Flag(help: "Print immediates and offsets in decimal instead of hexadecimal.")
  var decimal = false

  @Flag(
    help:
      "Print the engine's JIT-compiled code instead (the --form given), as hex, and disassembled when objdump or llvm-mc is installed."
  )
  var jited = false

  @Option(
    help: ArgumentHelp(
      "--jited: per-packet (the program as compiled) or batch (the rewriter's batch form, as `bench` and `run --form batch` run it).",
      valueName: "form"))
  var form: Form = .perPacket

  func validate() throws {
    if form == .batch && !jited {
      throw ValidationError(
        "--form batch shows the JIT's code: add --jited (`rewrite --listing` shows the batch form's instructions)"
      )
    }
  }

  func run() throws {
    let file = try BPFObject(contentsOf: object)
    let programs = try program.map { [try file.program(named: $0)] } ?? file.programs()
    for (position, program) in programs.enumerated() {
      if position > 0 { print() }
      print(header(for: program))
      if jited {
        print(try jitedListing(of: program, maps: file.maps))
      } else {
        print(listing(of: program, maps: file.maps), terminator: "")
      }
    }
  }

  private func header(for program: Program) -> String {
    let subprograms =
      program.subprograms.isEmpty
      ? "" : ", subprograms: " + program.subprograms.map(\.name).joined(separator: ", ")
    return
      "\(program.name) (section \(program.sectionName), \(program.instructions.count) instructions\(subprograms)):"
  }

  private func listing(of program: Program, maps: [MapDefinition]) -> String {
    let disassembler = Disassembler(
      naming: program, maps: maps, numberStyle: decimal ? .decimal : .hexadecimal)
    let starts = Dictionary(uniqueKeysWithValues: program.subprograms.map { ($0.start, $0.name) })
    let width = String(max(program.instructions.count - 1, 0)).count
    var text = ""
    for line in disassembler.lines(program.instructions) {
      if let name = starts[line.index] { text += "\n<\(name)>:\n" }
      let index = String(line.index)
      text += String(repeating: " ", count: width - index.count + 4) + index + ":\t" + line.text
      text += helperComment(program.instructions[line.index]) + "\n"
    }
    return text
  }

  /// What the engine's JIT makes of `program` (as `prog --jited` shows
  /// the kernel's): its code, offset 0 the entry.
  private func jitedListing(of program: Program, maps: [MapDefinition]) throws -> String {
    let machine = try Machine(maps: maps, configuration: MachineConfiguration(engine: .jit))
    let prepared =
      form == .batch
      ? try machine.prepare(try BatchTrampoline().rewrite(program).program, form: .batch)
      : try machine.prepare(program)
    let code = try machine.nativeCode(for: prepared)
    let listing = MachineCodeListing(code.bytes)
    return
      (listing.hexRows + [
        "",
        listing.disassembly
          ?? "(install binutils' objdump or LLVM's llvm-mc for an x86-64 disassembly)",
      ]).joined(separator: "\n")
  }

  /// `\t; bpf_map_lookup_elem` after a helper call whose id is known.
  private func helperComment(_ instruction: Instruction) -> String {
    guard instruction.isHelperCall,
      let name = HelperFunction(rawValue: instruction.immediate).name
    else { return "" }
    return "\t; bpf_\(name)"
  }
}
