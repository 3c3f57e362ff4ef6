import ArgumentParser
import Control
import Datapath

/// `xdpbatch detach`: removes xdpbatch's program, its pins and its record;
/// with `--force`, also a program another tool attached.
struct DetachCommand: ParsableCommand {
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

  func run() throws {
    try Privileges.require(for: "detach")
    let deployment = ProgramDeployment()
    let foreign = try deployment.foreignPrograms(interface: interface)
    var detachedOurs = true
    do {
      try DatapathDeployment(deployment: deployment).detach(interface: interface)
      print("detached xdpbatch's program from \(interface)")
    } catch {
      guard case .deployment(.attach(.notAttached)) = error, !foreign.isEmpty else { throw error }
      detachedOurs = false
    }
    guard let first = foreign.first else { return }
    guard force else {
      let text =
        "\(interface) runs XDP program \"\(first.name ?? "?")\" (id \(first.id), \(first.mode.rawValue) mode) that xdpbatch did not attach; `xdpbatch detach --force \(interface)` detaches it"
      if detachedOurs {
        print("left \(text)")
        return
      }
      throw DetachRefusal(text: text)
    }
    for program in try deployment.detachForeign(interface: interface) {
      print(
        "detached program \"\(program.name ?? "?")\" (id \(program.id), \(program.mode.rawValue) mode) from \(interface)"
      )
    }
  }
}

/// `detach` without `--force` found only another tool's program.
struct DetachRefusal: Error, CustomStringConvertible {
  /// What runs there and the command that removes it.
  var text: String
  /// The text.
  var description: String { text }
}
