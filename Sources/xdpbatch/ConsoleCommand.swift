import ArgumentParser
import Console
import Foundation
import Kernel
import LiveConsole

#if canImport(Glibc)
  import Glibc
#endif

/// `xdpbatch console` (and `xdpbatch` alone): the interactive console.
///
/// Named `ConsoleSubcommand` because `ConsoleCommand` is what the console
/// asks the layer above to do (Console's key model).
struct ConsoleSubcommand: ParsableCommand, LibraryMessageCommand {
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

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    try ConsoleStartError.checkTerminal()
    try Privileges.require(for: "console")
    if let interface { try ConsoleStartError.checkInterface(interface) }
    // From here on the terminal is the console's screen: what libbpf and
    // libxdp print goes to the message log, and to standard error again
    // once the console has given the terminal back.
    let libraryMessages = LibraryMessages.Collector(verbose: messages.verbose)
    LibraryMessages.route(to: libraryMessages.sink)
    defer { XDPBatch.routeLibraryMessages(for: self) }
    let session = ConsoleSession(interface: interface)
    let runner = ConsoleRunner(
      theme: theme, environment: ProcessInfo.processInfo.environment,
      snapshot: { session.snapshot() }, execute: { try session.execute($0) },
      libraryMessages: {
        libraryMessages.take().map { StatusMessage($0.level == .warning ? .error : .info, $0.text) }
      })
    do {
      if let signal = try runner.run() {
        throw ExitCode(128 + signal)
      }
    } catch let error as TerminalError {
      writeToStandardError("xdpbatch: error: \(error)")
      throw ExitCode.failure
    }
  }
}

/// Why the console refuses to start, before it touches the terminal.
enum ConsoleStartError: Error, CustomStringConvertible {
  /// Standard input or output is not a terminal (a pipe, a script, CI).
  case notATerminal(stream: String)
  /// `--interface` names no interface; `available` lists those there are.
  case unknownInterface(String, available: [String])

  var description: String {
    switch self {
    case .notATerminal(let stream):
      "the console needs a terminal (standard \(stream) is not one); "
        + "`xdpbatch stats IFACE --interval 1` prints the same counts for scripts"
    case .unknownInterface(let name, let available):
      "no interface named '\(name)'; interfaces: \(available.joined(separator: ", "))"
    }
  }

  /// Refuses unless standard input and output are both terminals: the
  /// console draws with escape codes and reads keys.
  static func checkTerminal() throws(ConsoleStartError) {
    guard isatty(STDOUT_FILENO) == 1 else { throw .notATerminal(stream: "output") }
    guard isatty(STDIN_FILENO) == 1 else { throw .notATerminal(stream: "input") }
  }

  /// Refuses an interface the kernel does not know, listing those it does.
  static func checkInterface(_ name: String) throws {
    guard if_nametoindex(name) == 0 else { return }
    let names = try InterfaceInventory.query().interfaces.map(\.name)
    throw ConsoleStartError.unknownInterface(name, available: names)
  }
}
