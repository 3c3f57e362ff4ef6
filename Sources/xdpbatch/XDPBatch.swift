import ArgumentParser
import BPF

/// The `xdpbatch` command: an operator console for XDP batching.
@main
struct XDPBatch: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "xdpbatch",
    abstract: "An operator console for XDP batching.",
    subcommands: [ExecCommand.self]
  )
}
