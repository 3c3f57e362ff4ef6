import ArgumentParser
import Deployment
import Kernel

/// `xdpbatch detach`: removes xdpbatch's program, its pins and its record;
/// with `--force`, also a program another tool attached.
struct DetachCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "detach",
    abstract: "Detach xdpbatch's program from an interface and remove its pins.",
    discussion: """
      A program another tool attached (xdp-loader, ip link, bpftool) is left alone unless \
      --force is given; then it is detached as well.
      """)

  @Argument(help: "The network interface.")
  var interface: String

  @Flag(help: "Also detach a program that another tool attached.")
  var force = false

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    try Privileges.require(for: "detach")
    let outcome = try ProgramDeployment.commandLine().detach(interface: interface, includingForeign: force)
    if outcome.detachedOurs { print("detached xdpbatch's program from \(interface)") }
    if let left = outcome.leftForeign.first {
      print("left \(DeploymentError.foreignOnly(interface: interface, program: left).advised)")
    }
    for program in outcome.detachedForeign {
      print(
        "detached program \"\(program.name ?? "?")\" (id \(program.id), \(program.mode.rawValue) mode) from \(interface)"
      )
    }
  }
}
