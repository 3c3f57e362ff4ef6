import ArgumentParser
import Engine

/// `xdpbatch exec [MEMHEX]`: the bpf_conformance plugin protocol.
///
/// Reads the program as hex bytes from standard input, runs it in the
/// engine with R1 = a copy of the memory given as the first argument (hex
/// bytes) and R2 = its length, and prints R0 in lower-case hex without a
/// prefix (as the reference plugins' `std::hex << r0`). On failure it prints
/// one line saying why on standard output, where the conformance runner
/// compares it with a test's `-- error`, and exits 1.
struct ExecCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "exec",
    abstract: "Run a program from stdin (hex bytes) and print r0 in hex (bpf_conformance plugin).")

  @Argument(help: "Memory for the program as hex bytes (R1 points to a copy, R2 is its length).")
  var memory: String?

  @Argument(help: .hidden)
  var pluginOptions: [String] = []

  @OptionGroup var engineOption: EngineOption

  func run() throws {
    var program = ""
    while let line = readLine(strippingNewline: true) { program += line + " " }
    do {
      let result = try ConformanceRun.execute(
        programHex: program, memoryHex: memory, engine: engineOption.engine)
      print(String(result, radix: 16))
    } catch {
      print(error.description)
      throw ExitCode(1)
    }
  }
}
