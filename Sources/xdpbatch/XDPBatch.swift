import ArgumentParser
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The `xdpbatch` command: an operator console for XDP batching.
///
/// Exit codes are part of the command line's contract (docs/DESIGN.md): 0 on
/// success, 1 when the operation failed (the message on stderr says what,
/// where and why), 2 for a usage error.
@main
struct XDPBatch: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "xdpbatch",
    abstract: "An operator console for XDP batching.",
    version: Version.description,
    subcommands: [
      ConsoleSubcommand.self, ListCommand.self, DisasmCommand.self, RewriteCommand.self,
      CheckCommand.self, RunCommand.self, ExecCommand.self, AttachCommand.self,
      SwapCommand.self, DetachCommand.self, StatsCommand.self, DemoCommand.self,
      BenchCommand.self, VersionCommand.self, MapsCommand.self, MapCommand.self, ProgCommand.self,
      CaptureCommand.self, TraceCommand.self, DatapathCommand.self,
      ExporterCommand.self,
    ],
    defaultSubcommand: ConsoleSubcommand.self
  )

  /// Parses and runs a subcommand, mapping failures onto the documented exit
  /// codes instead of ArgumentParser's defaults.
  static func main() {
    let command: ParsableCommand
    do {
      command = try parseAsRoot()
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        exit(withError: error)
      }
      writeToStandardError(usageMessage(for: error))
      Glibc.exit(2)
    }
    routeLibraryMessages(for: command)
    do {
      var runnable = command
      try runnable.run()
    } catch let exitCode as ExitCode {
      Glibc.exit(exitCode.rawValue)
    } catch {
      // `--help` parses into ArgumentParser's help command, whose run
      // throws the help request: print the help, exit 0.
      if exitCode(for: error) == .success { exit(withError: error) }
      writeToStandardError("xdpbatch: error: \(advisedMessage(for: error))")
      Glibc.exit(1)
    }
  }
}

extension XDPBatch {
  /// ArgumentParser's message for a usage error, under the one prefix
  /// every error of the tool has (`xdpbatch: error: …`), usage after it.
  static func usageMessage(for error: Error) -> String {
    let message = fullMessage(for: error)
    guard message.hasPrefix("Error: ") else { return message }
    return "xdpbatch: error: " + message.dropFirst("Error: ".count)
  }
}

/// Writes one message line to standard error, after what `print` has
/// buffered for standard output: where both go to one pipe or file
/// (`2>&1`), stdout's buffer is flushed in 4 KiB blocks that end
/// mid-line, and a message written in between ran on from that line's
/// first half. Issue 24's `…cannot be boundedxdpbatch: error: …` was
/// `check` on an object whose refused programs fill more than 4 KiB, the
/// block ending after a refusal's last word (OneStreamTests).
func writeToStandardError(_ message: String) {
  let line = message.hasSuffix("\n") ? message : message + "\n"
  fflush(nil)  // every output stream: standard output is the one print fills
  FileHandle.standardError.write(Data(line.utf8))
}
