import ArgumentParser
import Kernel

/// `--verbose`: libbpf's and libxdp's debug lines as well as their
/// warnings (bpftool's `--debug`). Either way they go through the tool:
/// on standard error after `xdpbatch:`, in the console's message log, in
/// the software datapath's log.
struct LibraryMessageOptions: ParsableArguments {
  @Flag(
    help: ArgumentHelp(
      "Also show libbpf's and libxdp's debug messages (standard error; in the console, its message log)."
    ))
  var verbose = false
}

/// A command that reaches libbpf or libxdp, and so takes `--verbose`.
protocol LibraryMessageCommand {
  var messages: LibraryMessageOptions { get }
}

extension XDPBatch {
  /// Routes the libraries' messages for `command`: to standard error
  /// under the tool's prefix (`xdpbatch datapath:` in the datapath's
  /// process, whose standard error is its log). The console routes them
  /// to its message log while it draws.
  static func routeLibraryMessages(for command: ParsableCommand) {
    let verbose = (command as? any LibraryMessageCommand)?.messages.verbose ?? false
    let prefix = command is DatapathRunCommand ? "xdpbatch datapath" : "xdpbatch"
    LibraryMessages.route(to: LibraryMessages.standardError(prefix: prefix, verbose: verbose))
  }
}
