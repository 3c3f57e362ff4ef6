import ArgumentParser
import Console
import Foundation
import LiveConsole

/// `xdpbatch console` (and `xdpbatch` alone): the interactive console.
///
/// Named `ConsoleSubcommand` because `ConsoleCommand` is what the console
/// asks the layer above to do (Console's key model).
struct ConsoleSubcommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "console",
    abstract: "The interactive console: interfaces, program, live per-action counts (default).")

  @Option(
    help: ArgumentHelp(
      "Colour theme: default, light, colorblind, mono, or a path to a .theme file.",
      valueName: "name"))
  var theme: String?

  @Option(
    help: ArgumentHelp(
      "The interface to select at start (default: the demo's, when the demo is up).",
      valueName: "iface"))
  var interface: String?

  func run() throws {
    let session = ConsoleSession(interface: interface)
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
