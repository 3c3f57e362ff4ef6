import ArgumentParser
import BPF
import Deployment
import Foundation
import Inspection
import Kernel

/// `xdpbatch prog IFACE`: what the kernel made of the XDP program on an
/// interface: identity, sizes, run statistics, per-CPU verdicts, and on
/// request its translated and JIT-compiled code. On the software datapath
/// it shows both programs: the redirect program attached, and the user's
/// program it falls back to (which the rest describes).
struct ProgCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "prog",
    abstract: "Show the XDP program on an interface as the kernel holds it (any loader).")

  @Argument(help: "The network interface.")
  var interface: String

  @Flag(help: "Print one JSON document.")
  var json = false

  @Flag(help: "Print the kernel's translated instructions (xlated), disassembled.")
  var xlated = false

  @Flag(
    help:
      "Print the JIT-compiled code as hex, and disassembled when objdump or llvm-mc is installed.")
  var jited = false

  func run() throws {
    let deployed = try DeployedProgram.on(interface)
    let program = deployed.program
    // Statistics count only while someone holds this: the count grows
    // between two `prog` calls only if the other holder (console, stats)
    // or the sysctl kernel.bpf_stats_enabled keeps them on.
    let statistics = try? RunStatistics.enable()
    defer { _ = statistics }
    let details: ProgramDetails
    do {
      details = try ProgramDetails(program.program)
    } catch {
      throw InspectionError.kernel(error)
    }
    let perCPU = program.perCPUActionCounts()
    let redirect = deployed.redirect.flatMap { try? ProgramDetails.read(id: $0.redirectID) }
    if json {
      print(
        try JSONCoding.document(
          ProgReport(
            interface: interface, details: details, perCPU: perCPU, redirectProgram: redirect)))
    } else {
      print(Self.summary(details, interface: interface, perCPU: perCPU))
      if let redirect { print(Self.redirectSummary(redirect)) }
    }
    if xlated {
      print(try Self.xlatedListing(program, details: details))
    }
    if jited {
      print(try Self.jitedListing(program))
    }
  }

  static func summary(_ details: ProgramDetails, interface: String, perCPU: PerCPUActionCounts?)
    -> String
  {
    let formatter = ISO8601DateFormatter()
    var lines = [
      "\(interface): program \(details.name) (id \(details.id))",
      "  tag \(details.tag)  loaded \(formatter.string(from: details.loadTime))  btf \(details.btfID == 0 ? "-" : String(details.btfID))",
      "  verified \(details.verifiedInstructions) instructions  xlated \(details.xlatedBytes) bytes  jited \(details.jitedBytes) bytes",
      "  runs \(details.runCount)  run time \(details.runTimeNanoseconds) ns"
        + (details.nanosecondsPerRun.map { String(format: "  %.1f ns/run", $0) } ?? ""),
      "  maps "
        + (details.mapIDs.isEmpty ? "-" : details.mapIDs.map(String.init).joined(separator: ", ")),
    ]
    if let perCPU {
      lines.append(
        "  CPU  "
          + XDPAction.allCases.map {
            $0.name.uppercased().padding(toLength: 12, withPad: " ", startingAt: 0)
          }.joined())
      for (cpu, counts) in perCPU.cpus.enumerated() {
        lines.append(
          "  " + String(cpu).padding(toLength: 5, withPad: " ", startingAt: 0)
            + XDPAction.allCases.map {
              String(counts[$0].packets).padding(toLength: 12, withPad: " ", startingAt: 0)
            }.joined())
      }
    }
    return lines.joined(separator: "\n")
  }

  /// The software datapath's lines: what is attached and what it does.
  static func redirectSummary(_ redirect: ProgramDetails) -> String {
    [
      "  run by the software datapath: attached is its redirect program \(redirect.name) (id \(redirect.id)),",
      "  which hands each frame to the datapath's AF_XDP socket of its queue and falls back to this",
      "  program in the kernel when no socket is registered; the per-CPU counts above are that",
      "  kernel fallback's (`xdpbatch stats` adds the datapath's)",
    ].joined(separator: "\n")
  }

  /// The xlated code through the project's disassembler. Map references
  /// name the map (the kernel writes its id into the instruction), helper
  /// calls the kernel function they reach (from `/proc/kallsyms`).
  static func xlatedListing(_ program: InterfaceProgram, details: ProgramDetails) throws -> String {
    let bytes = try program.program.translatedCode()
    guard !bytes.isEmpty else {
      return "(the kernel does not show this program's translated code: it needs CAP_SYS_ADMIN)"
    }
    let instructions = try Instruction.decode(littleEndian: bytes)
    let names = Dictionary(
      (try? program.maps())?.map { (Int($0.info.id), $0.info.name) } ?? [],
      uniquingKeysWith: { a, _ in a })
    // The kernel writes map references back as BPF_PSEUDO_MAP_FD (1) or
    // BPF_PSEUDO_MAP_VALUE (2) with the map's id, as bpftool shows them.
    let symbols = KernelSymbols.load()
    return Disassembler().lines(instructions).map { line in
      let instruction = instructions[line.index]
      var text = line.text
      if instruction.isHelperCall,
        let name = symbols?.helperName(callImmediate: instruction.immediate)
      {
        text = "call \(name)"
      }
      if instruction.isWideImmediateLoad, [1, 2].contains(instruction.src.rawValue) {
        let id = Int(UInt32(bitPattern: instruction.immediate))
        let offset =
          instruction.src.rawValue == 2 && line.index + 1 < instructions.count
          ? " + \(instructions[line.index + 1].immediate)" : ""
        text = "r\(instruction.dst.rawValue) = map[id:\(id)]\(offset) ll  ; \(names[id] ?? "?")"
      }
      return String(line.index).leftPadded(to: 5) + ": " + text
    }.joined(separator: "\n")
  }

  /// The JIT code as hex lines, then a disassembly where a disassembler is installed.
  static func jitedListing(_ program: InterfaceProgram) throws -> String {
    let bytes = try program.program.machineCode()
    guard !bytes.isEmpty else { return "(no JIT-compiled code: the program is interpreted)" }
    var lines: [String] = []
    for offset in stride(from: 0, to: bytes.count, by: 16) {
      let row = bytes[offset..<min(offset + 16, bytes.count)]
      lines.append(
        String(format: "%6x: ", offset)
          + row.map { String(format: "%02x", $0) }.joined(separator: " "))
    }
    if let disassembly = MachineCodeDisassembler.x86_64(bytes) {
      lines.append("")
      lines.append(disassembly)
    } else {
      lines.append("(install binutils' objdump or LLVM's llvm-mc for an x86-64 disassembly)")
    }
    return lines.joined(separator: "\n")
  }
}

/// `prog --json`: the details, the interface and the per-CPU verdicts.
struct ProgReport: Encodable {
  var interface: String
  var details: ProgramDetails
  var perCPU: PerCPUActionCounts?
  /// The software datapath's redirect program, when it is what is attached
  /// (the details are then of the user's program it falls back to).
  var redirectProgram: ProgramDetails?

  private enum CodingKeys: String, CodingKey { case interface, perCPU, redirectProgram }

  func encode(to encoder: any Encoder) throws {
    try details.encode(to: encoder)
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(interface, forKey: .interface)
    try container.encodeIfPresent(perCPU, forKey: .perCPU)
    try container.encodeIfPresent(redirectProgram, forKey: .redirectProgram)
  }
}

/// Disassembles x86-64 machine code with a tool on the machine: binutils'
/// `objdump`, else LLVM's `llvm-mc`; `nil` when neither runs.
enum MachineCodeDisassembler {
  static func x86_64(_ code: [UInt8]) -> String? {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "xdpbatch-jit-\(getpid()).bin")
    defer { try? FileManager.default.removeItem(at: file) }
    guard (try? Data(code).write(to: file)) != nil else { return nil }
    if let path = tool("objdump"),
      let output = run(path, ["-D", "-b", "binary", "-m", "i386:x86-64", file.path]),
      let start = output.range(of: "<.data>:\n")
    {
      return String(output[start.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    if let path = tool("llvm-mc") {
      let hex = code.map { String(format: "0x%02x", $0) }.joined(separator: " ")
      return run(path, ["--disassemble", "-triple=x86_64"], input: hex)
    }
    return nil
  }

  static func tool(_ name: String) -> String? {
    ["/usr/bin/", "/usr/local/bin/", "/opt/swift/usr/bin/"].map { $0 + name }.first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
  }

  static func run(_ path: String, _ arguments: [String], input: String? = nil) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    let inputPipe = Pipe()
    if input != nil { process.standardInput = inputPipe }
    guard (try? process.run()) != nil else { return nil }
    if let input {
      inputPipe.fileHandleForWriting.write(Data(input.utf8))
      try? inputPipe.fileHandleForWriting.close()
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self)
  }
}

extension String {
  /// Right-aligned in `width` columns.
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: " ", count: width - count) + self
  }
}
