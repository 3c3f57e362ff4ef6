import Foundation
import Kernel
import KernelTestSupport
import TestSupport
import Testing

/// A `map update` or `map delete` of a map the software datapath keeps
/// its own copy of (a PROG_ARRAY: the engines cannot take programs from
/// the kernel) says that the datapath does not follow it (issue 24: it
/// succeeded silently); a map it shares says nothing of the kind.
@Suite(.serialized, .datapathAccess, .builtXDPBatch, .sample("xdp_tailcall"))
struct UnfollowedMapTests {
  @Test func aChangeToAMapTheSoftwareDatapathDoesNotFollowSaysSo() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attached = try BuiltXDPBatch.run([
      "attach", interface, PackageLayout.sample("xdp_tailcall"), "--program", "xdp_tailcall_prog",
      "--datapath", "software", "--form", "per-packet",
    ])
    try #require(attached.status == 0, "\(attached.errors)")
    defer { _ = try? BuiltXDPBatch.run(["detach", interface]) }

    let warning = "the software datapath keeps its own copy of jump_table (prog_array)"
    // The slot is empty: the kernel refuses the delete; the warning comes first.
    let deleted = try BuiltXDPBatch.run(["map", "delete", interface, "jump_table", "0"])
    #expect(
      deleted.errors.contains("xdpbatch: warning: map delete on \(interface): \(warning)"),
      "\(deleted.errors)")
    let updated = try BuiltXDPBatch.run(["map", "update", interface, "jump_table", "0", "1"])
    #expect(
      updated.errors.contains("xdpbatch: warning: map update on \(interface): \(warning)"),
      "\(updated.errors)")

    // On the kernel datapath every change is the program's: no warning.
    let kernelSide = try BuiltXDPBatch.run(["detach", interface])
    #expect(kernelSide.status == 0, "\(kernelSide.errors)")
    let reattached = try BuiltXDPBatch.run([
      "attach", interface, PackageLayout.sample("xdp_tailcall"), "--program", "xdp_tailcall_prog",
    ])
    try #require(reattached.status == 0, "\(reattached.errors)")
    let onKernel = try BuiltXDPBatch.run(["map", "delete", interface, "jump_table", "0"])
    #expect(!onKernel.errors.contains("warning"), "\(onKernel.errors)")
  }
}
