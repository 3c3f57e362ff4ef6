import Foundation
import Testing

/// `xdpbatch disasm` as a user runs it: linked programs with maps, helpers
/// and subprograms by name, and clear failures on bad input.
@Suite("xdpbatch disasm", .enabled(if: Command.ready, Command.missingReason))
struct DisasmCommandTests {
  /// The instruction lines of a listing (`   12:\ttext`), without headers.
  static func instructionLines(_ output: String) -> [(index: Int, text: String)] {
    output.split(separator: "\n").compactMap { line in
      let parts = line.split(separator: ":", maxSplits: 1)
      guard parts.count == 2, let index = Int(parts[0].trimmingCharacters(in: .whitespaces))
      else { return nil }
      return (index, parts[1].trimmingCharacters(in: .whitespaces))
    }
  }

  @Test("map references, helpers and the linked subprogram appear by name")
  func namesMapsHelpersAndSubprograms() throws {
    let redirect = try Command.run(["disasm", Command.sample("xdp_redirect_map")])
    #expect(redirect.status == 0, "\(redirect.errors)")
    let texts = Self.instructionLines(redirect.output).map(\.text)
    #expect(texts.contains("r1 = map[forwarded] ll"))
    #expect(texts.contains("r1 = map[tx_port] ll"))
    #expect(texts.contains { $0.hasPrefix("call 0x33") && $0.hasSuffix("; bpf_redirect_map") })

    let classify = try Command.run(["disasm", Command.sample("xdp_classify")])
    #expect(classify.status == 0, "\(classify.errors)")
    #expect(classify.output.contains("\n<classify_ipv4>:\n"))
    let lines = Self.instructionLines(classify.output)
    #expect(lines.contains { $0.text == "call classify_ipv4" })
    // Indices count slots: ld_imm64 takes two, so they may skip but never go back.
    #expect(zip(lines, lines.dropFirst()).allSatisfy { $0.index < $1.index })
  }

  @Test("--jited prints the engine's code: the prologue's pushes, one access per packet byte")
  func printsTheEnginesCode() throws {
    let tx = try Command.run(["disasm", Command.sample("xdp_tx"), "--jited"])
    #expect(tx.status == 0, "\(tx.errors)")
    // push rbp, r12; sub rsp, 8: xdp_tx names none of R6 - R9, so RBX and
    // R13 - R15 are not saved (all six were before).
    #expect(tx.output.contains("     0: 55 41 54 48 83 ec 08 49 89 fc"), "\(tx.output.prefix(400))")
    if MachineCode.objdumpInstalled {
      // The swap's byte loads address [arena + data + offset] in one instruction.
      #expect(tx.output.contains("movzbl 0xb(%r11,%rdi,1),%esi"))
    }
  }

  @Test("--jited --form batch prints the batch form's code, its loop registers saved")
  func printsTheBatchFormsCode() throws {
    let tx = try Command.run(["disasm", Command.sample("xdp_tx"), "--jited", "--form", "batch"])
    #expect(tx.status == 0, "\(tx.errors)")
    // push rbp, rbx, r12, r13; sub rsp, 8: the loop keeps its cursor in
    // R6 (RBX) and its end in R7 (R13), which xdp_tx never names.
    #expect(tx.output.contains("     0: 55 53 41 54 41 55 48 83 ec 08"), "\(tx.output.prefix(400))")
    let plain = try Command.run(["disasm", Command.sample("xdp_tx"), "--form", "batch"])
    #expect(plain.status == 2)
    #expect(plain.errors.contains("--form batch shows the JIT's code: add --jited"))
  }

  @Test("--program selects one program; every program of the object otherwise")
  func selectsPrograms() throws {
    let both = try Command.run(["disasm", Command.sample("xdp_tailcall")])
    #expect(both.status == 0)
    #expect(both.output.contains("xdp_tailcall_prog (section xdp"))
    #expect(both.output.contains("xdp_tailcall_target (section xdp"))
    let one = try Command.run([
      "disasm", Command.sample("xdp_tailcall"), "--program", "xdp_tailcall_target",
    ])
    #expect(one.status == 0)
    #expect(!one.output.contains("xdp_tailcall_prog"))
    #expect(one.output.contains("xdp_tailcall_target"))
  }

  @Test("an unknown program or a damaged object exits 1 and names the file")
  func badInput() throws {
    let path = Command.sample("xdp1")
    let missing = try Command.run(["disasm", path, "--program", "nope"])
    #expect(missing.status == 1)
    #expect(missing.errors.contains(path))
    #expect(missing.errors.contains("xdp_prog1"), "the message lists what is available")

    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let truncated = try temporaryFile(Array(bytes.prefix(bytes.count / 3)), name: "truncated.o")
    defer { try? FileManager.default.removeItem(atPath: truncated) }
    let damaged = try Command.run(["disasm", truncated])
    #expect(damaged.status == 1)
    #expect(damaged.errors.contains(truncated))
    #expect(damaged.output.isEmpty)

    let usage = try Command.run(["disasm"])
    #expect(usage.status == 2)
  }
}

/// Whether binutils' objdump is installed (the listing's disassembly).
enum MachineCode {
  static let objdumpInstalled = ["/usr/bin/objdump", "/usr/local/bin/objdump"].contains {
    FileManager.default.isExecutableFile(atPath: $0)
  }
}
