import ArgumentParser
import Deployment
import Kernel

/// `xdpbatch swap`: alternates the attached program between its
/// per-packet and batch forms, atomically.
struct SwapCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "swap",
    abstract: "Swap the attached program between per-packet and batch form, atomically.")

  @Argument(help: "The network interface.")
  var interface: String

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    try Privileges.require(for: "swap")
    let record = try ProgramDeployment.commandLine().swap(interface: interface)
    print(
      "\(interface) now runs \(record.program) (\(record.form.rawValue), \(record.runningDatapath.rawValue) datapath)"
    )
  }
}
