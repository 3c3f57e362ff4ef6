import Datapath
import Deployment
import Foundation
import Glibc
import Kernel
import KernelTestSupport
import TestSupport
import Testing

/// A software datapath whose interface is deleted: its process serves
/// nothing any more (the kernel detached the link), and the next command
/// that reads the state directory stops it and removes what xdpbatch kept
/// for the interface (record, lock, process lock, log, control socket,
/// pins). Before, the process ran on and the files stayed until an
/// interface of that name appeared again.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct VanishedDatapathInterfaceTests {
  @Test func theNextCommandRemovesADeletedInterfacesDatapath() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let other = try TestNetwork()
    defer { other.tearDown() }
    let interface = network.veth.name
    let attached = try DatapathRecordTests.attach(interface)
    try #require(attached.status == 0, "\(attached.errors)")
    let record = try #require(StateDirectory().record(interface: interface))
    let process = try #require(record.process)
    let tap = try #require(PassDeviceName.for(interface))
    network.veth.delete()
    #expect(!TestNetwork.stateFiles(of: interface).isEmpty)

    let stats = try BuiltXDPBatch.run(["stats", other.veth.name])
    #expect(stats.status == 1, "\(stats.output)")
    #expect(TestNetwork.stateFiles(of: interface) == [])
    #expect(DatapathConcurrencyTests.datapathProcesses(interface).isEmpty)
    // Gone, or a zombie its parent has not reaped yet.
    #expect(!process.isAlive, "datapath process \(process.pid)")
    #expect(if_nametoindex(tap) == 0, "TAP device \(tap)")
    #expect(!PinDirectory.exists(PinDirectory(interface: interface).path))
    #expect(StateFileAudit.unjustifiedFiles(of: interface).isEmpty)
  }
}
