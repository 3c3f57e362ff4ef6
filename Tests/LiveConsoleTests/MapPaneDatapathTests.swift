import Console
import Datapath
import Foundation
import Glibc
import Inspection
import Kernel
import KernelTestSupport
import TestSupport
import Testing

@testable import LiveConsole

/// The console's maps pane on an interface the software datapath runs:
/// the user's maps (those of the program the redirect program falls back
/// to), not the redirect program's sockets and fallback maps.
@Suite(
  .serialized,
  .enabled(
    if: KernelAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: KernelAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct MapPaneDatapathTests {
  static let redirectMap = PackageLayout.sample("xdp_redirect_map")

  @Test(.enabled(if: FileManager.default.fileExists(atPath: redirectMap), "make samples"))
  func mapsPaneShowsTheUsersMapsOnTheSoftwareDatapath() throws {
    let network = try TestNetwork(prefix: "xbm")
    defer { network.tearDown() }
    let interface = network.veth.name
    let attached = try BuiltXDPBatch.run([
      "attach", interface, Self.redirectMap, "--program", "xdp_redirect_map_prog",
      "--datapath", "software",
    ])
    defer { _ = try? BuiltXDPBatch.run(["detach", interface]) }
    try #require(attached.status == 0, "\(attached.errors)")
    let attachedProgram = try InterfaceProgram.attached(to: interface)
    #expect(attachedProgram.program.name == RedirectProgram.name)

    let names = MapPanel.read(interface: interface, state: StateDirectory()).map(\.name)
    #expect(names.contains("tx_port") && names.contains("forwarded"), "\(names)")
    #expect(!names.contains(RedirectProgram.socketsMap.name))
    #expect(!names.contains(RedirectProgram.fallbackMap.name))
  }
}
