import ArgumentParser
import Control
import Datapath

/// `xdpbatch detach`: removes xdpbatch's program, its pins and its record.
struct DetachCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "detach",
    abstract: "Detach xdpbatch's program from an interface and remove its pins.")

  @Argument(help: "The network interface.")
  var interface: String

  func run() throws {
    try DatapathDeployment().detach(interface: interface)
    print("detached xdpbatch's program from \(interface)")
  }
}
