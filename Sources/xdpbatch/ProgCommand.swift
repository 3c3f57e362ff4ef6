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
struct ProgCommand: ParsableCommand, LibraryMessageCommand {
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

  @OptionGroup var messages: LibraryMessageOptions

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
      print(try Self.xlatedListing(program))
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

  /// The xlated code, disassembled (``InterfaceProgram/translatedListing()``).
  static func xlatedListing(_ program: InterfaceProgram) throws -> String {
    guard let lines = try program.translatedListing() else {
      return "(the kernel does not show this program's translated code: it needs CAP_SYS_ADMIN)"
    }
    return lines.joined(separator: "\n")
  }

  /// The JIT code as hex lines, then a disassembly where a disassembler is installed.
  static func jitedListing(_ program: InterfaceProgram) throws -> String {
    guard let listing = try program.machineCodeListing() else {
      return "(no JIT-compiled code: the program is interpreted)"
    }
    var lines = listing.hexRows
    if let disassembly = listing.disassembly {
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
