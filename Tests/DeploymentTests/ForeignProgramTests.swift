import BPF
import CBPF
import Foundation
import Glibc
import Inspection
import Kernel
import KernelTestSupport
import Lab
import TestSupport
import Testing

@testable import Deployment

/// Programs another tool attached (issue 13, item 15): what the kernel
/// knows about them, and `detach --force` (through Control and the built
/// binary) removing them while leaving xdpbatch's own alone.
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct ForeignProgramTests {
  @Test func detailsNameTheTagRunStatisticsAndMaps() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let loaded = try ProgramLoader(maps: [ActionCounters.definition]).load(
      TestPrograms.counting(.pass, name: "counted"))
    let index = Int32(if_nametoindex(network.veth.name))
    try #require(
      bpf_xdp_attach(index, loaded.program.descriptor.rawValue, AttachMode.generic.flags, nil) == 0)
    defer { _ = bpf_xdp_detach(index, AttachMode.generic.flags, nil) }
    let id = try loaded.program.info().id

    let details = try ProgramDetails.read(id: id)
    #expect(details.id == id)
    #expect(details.name == "counted")
    #expect(details.tag.count == 16)
    #expect(details.tag.allSatisfy { $0.isHexDigit })
    #expect(details.tag != String(repeating: "0", count: 16))
    let maps = details.maps()
    let map = try #require(maps.first)
    #expect(maps.count == 1)
    #expect(map.name == ActionCounters.definition.name)
    #expect(map.type.description == "percpu_array")
    #expect(map.maxEntries == ActionCounters.definition.maxEntries)
  }

  @Test func detachForceRemovesOnlyTheOtherToolsProgram() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let foreign = try ForeignProgram(on: interface, mode: .generic)
    defer { foreign.detach() }
    let deployment = ProgramDeployment()
    #expect(try deployment.foreignPrograms(interface: interface).map(\.id) == [foreign.id])

    // Without --force the binary refuses, names the program and the way.
    let refused = try BuiltXDPBatch.run(["detach", interface])
    #expect(refused.status == 1)
    #expect(refused.errors.contains("id \(foreign.id)"))
    #expect(refused.errors.contains("xdpbatch detach --force \(interface)"))
    #expect(try InterfaceInventory.query()[name: interface]?.programs.map(\.id) == [foreign.id])

    let forced = try BuiltXDPBatch.run(["detach", "--force", interface])
    #expect(forced.status == 0, "\(forced.errors)")
    #expect(forced.output.contains("detached program \"foreign\" (id \(foreign.id)"))
    #expect(try InterfaceInventory.query()[name: interface]?.programs.isEmpty == true)
    #expect(throws: DeploymentError.self) { try deployment.detachForeign(interface: interface) }
  }

  @Test func detachForeignLeavesXDPBatchsOwnProgram() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attachment = try XDPAttachment.attach(
      ProgramSpec(
        program: TestPrograms.counting(.drop, name: "ours"), maps: [ActionCounters.definition],
        countersMapIndex: 0), to: interface, mode: .generic)
    defer {
      try? attachment.detach()
      // What the next command does: with nothing of xdpbatch left on the
      // interface, its lock file goes with its hold (the refused detach
      // kept it while the program's pins were there).
      _ = try? InterfaceLock.acquire(interface: interface, state: StateDirectory(), waiting: 1)
    }
    #expect(try ProgramDeployment().foreignPrograms(interface: interface).isEmpty)
    #expect(throws: DeploymentError.self) {
      try ProgramDeployment().detachForeign(interface: interface)
    }
    #expect(try InterfaceInventory.query()[name: interface]?.programs.count == 1)
  }

  /// The demo fills a redirecting sample's DEVMAP with its second pair
  /// (issue 13, item 16), so `xdp_redirect_map` redirects in the demo.
  @Test func demoFillsTheDevmapOfARedirectingSample() throws {
    let samples = PackageLayout.samplesDirectory.path
    try #require(
      FileManager.default.fileExists(atPath: samples + "/xdp_redirect_map.o"), "make samples")
    let lock = DemoLock()
    defer { lock.release() }
    let demo = Demo()
    defer { demo.down() }
    _ = try demo.up(object: samples + "/xdp_classify.o", mode: .generic, generatorCommand: nil)
    let target = if_nametoindex(demo.redirectTarget.name)
    #expect(target != 0)
    #expect(try demo.fillRedirectMaps() == 0)  // the classifier has no DEVMAP
    try ProgramDeployment().attach(
      ProgramSource(
        objectPath: samples + "/xdp_redirect_map.o", programName: "xdp_redirect_map_prog"),
      to: demo.veth.name, mode: .generic)
    #expect(try demo.fillRedirectMaps() == 1)
    let programID = try #require(
      try InterfaceInventory.query()[name: demo.veth.name]?.programs.first?.id)
    let devmap = try #require(
      try ProgramDetails.read(id: programID).maps().first { $0.type == .devmap })
    let fd = bpf_map_get_fd_by_id(devmap.id)
    try #require(fd >= 0)
    defer { close(fd) }
    for key in [UInt32(0), 1] {
      var key = key
      var value: UInt32 = 0
      #expect(bpf_map_lookup_elem(fd, &key, &value) == 0)
      #expect(value == target)
    }
    let removed = demo.down()
    #expect(removed.contains { $0.contains(demo.redirectTarget.name) })
    #expect(if_nametoindex(demo.redirectTarget.name) == 0)
  }
}
