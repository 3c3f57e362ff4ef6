import ArgumentParser
import Console
import Control
import Foundation

/// `xdpbatch console` (and `xdpbatch` alone): the interactive console.
///
/// Named `ConsoleSubcommand` because `ConsoleCommand` is what the console
/// asks Control to do (Console's key model).
struct ConsoleSubcommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "console",
    abstract: "The interactive console: interfaces, program, live per-action counts (default).")

  @Option(
    help: ArgumentHelp(
      "Colour theme: default, light, colorblind, mono, or a path to a .theme file.",
      valueName: "name"))
  var theme: String?

  func run() throws {
    let session = InventorySession()
    let runner = ConsoleRunner(
      theme: theme, environment: ProcessInfo.processInfo.environment,
      snapshot: { session.snapshot() }, execute: { try session.execute($0) })
    do {
      if let signal = try runner.run() {
        throw ExitCode(128 + signal)
      }
    } catch let error as TerminalError {
      writeToStandardError("xdpbatch console: \(error)")
      throw ExitCode.failure
    }
  }
}

/// What the console shows until the lead wires attach and counters in:
/// the machine's interfaces, re-read once a second, and the bundled
/// samples for the attach chooser.
final class InventorySession {
  private var inventory: InterfaceInventory?
  private var readAt: Date = .distantPast
  private var problem: StatusMessage?
  private var selected: String?
  private let choices = SampleCatalog.choices()

  func snapshot() -> ConsoleSnapshot {
    if Date().timeIntervalSince(readAt) >= 1 {
      readAt = Date()
      do {
        inventory = try InterfaceInventory.query()
        problem = nil
      } catch {
        problem = .error("cannot list interfaces: \(error)")
      }
    }
    let listing = InterfaceListing(
      inventory ?? InterfaceInventory(interfaces: [], reportsXDPFeatures: false), includeAll: true)
    var snapshot = ConsoleSnapshot(listing: listing)
    snapshot.selectedInterface = selected
    snapshot.kernelBatchSupport = .unknown("BTF probe not wired in yet")
    snapshot.attachChoices = choices
    snapshot.status =
      problem ?? listing.notices.first.map { .info($0) }
      ?? .info("\(listing.interfaces.filter(\.isI40e).count) i40e port(s); ? shows the keys")
    return snapshot
  }

  func execute(_ command: Console.ConsoleCommand) throws {
    switch command {
    case .select(let interface):
      selected = interface
    case .quit:
      break
    default:
      throw NotWiredYet(command: command)
    }
  }

  /// A command the console can ask for but this build cannot carry out.
  struct NotWiredYet: Error, CustomStringConvertible {
    var command: Console.ConsoleCommand
    var description: String {
      "cannot \(command) from the console yet: Control is not wired in (use the subcommands)"
    }
  }
}

/// The bundled sample objects (`make samples` builds them into
/// build/samples), found beside the working directory or the executable.
enum SampleCatalog {
  static let summaries: [String: String] = [
    "xdp1": "count by protocol, drop",
    "xdp_tx": "swap MACs, transmit back",
    "xdp_redirect_map": "redirect through a DEVMAP",
    "xdp_classify": "all five actions, a subprogram",
    "xdp_calls": "nested bpf-to-bpf calls",
    "xdp_stack": "over 400 bytes of stack",
    "xdp_stack_helper": "stack pointers passed to helpers",
    "xdp_tailcall": "tail call (cannot be batched)",
  ]

  static func choices() -> [AttachChoice] {
    let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "")
      .resolvingSymlinksInPath().deletingLastPathComponent()
    var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
    var directory = executable
    for _ in 0..<4 {
      candidates.append(directory)
      directory = directory.deletingLastPathComponent()
    }
    for base in candidates {
      let samples = base.appendingPathComponent("build/samples")
      guard let files = try? FileManager.default.contentsOfDirectory(atPath: samples.path)
      else { continue }
      let objects = files.filter { $0.hasSuffix(".o") }.sorted()
      guard !objects.isEmpty else { continue }
      return objects.map { file in
        let name = String(file.dropLast(2).replacingOccurrences(of: ".bpf", with: ""))
        return AttachChoice(
          objectPath: samples.appendingPathComponent(file).path, summary: summaries[name] ?? "")
      }
    }
    return []
  }
}
