import BPF
import CBPF
import Foundation
import Glibc
import Kernel
import KernelTestSupport
import Lab
import TestSupport
import Testing

@testable import Deployment

/// Attach, count, replace, detach and refuse, on a veth pair made for the
/// test (host end attached, peer in a namespace of its own).
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct AttachmentTests {
  func request(_ program: Program) -> ProgramSpec {
    ProgramSpec(program: program, maps: [ActionCounters.definition], countersMapIndex: 0)
  }

  @Test func attachCountReplaceDetach() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attachment = try XDPAttachment.attach(
      request(TestPrograms.counting(.drop, name: "count_drop")), to: interface, mode: .native)
    let pins = PinDirectory(interface: interface)
    #expect(PinDirectory.exists(pins.linkPath))
    #expect(PinDirectory.exists(pins.countersPath))

    // The listing sees the veth, its driver and the program we attached.
    let firstProgram = try attachment.program().info()
    let listed = try #require(try InterfaceInventory.query()[name: interface])
    #expect(listed.driver?.driver == "veth")
    #expect(listed.program?.id == firstProgram.id)
    #expect(listed.program?.mode == .native)
    #expect(listed.program?.name == "count_drop")

    // Frames sent from the peer arrive and are counted, all of them.
    let frame = TestNetwork.frame
    let sent: UInt64 = 100
    let generator = TrafficGenerator.start(
      .init(
        frames: [frame], interface: network.veth.peer, namespace: network.namespace,
        framesPerRun: UInt32(sent), limit: sent))
    let failure = generator.wait()
    #expect(failure == nil, "\(failure.map(String.init(describing:)) ?? "")")
    #expect(generator.framesSent == sent)
    #expect(try eventually { try attachment.counters.read()[.drop].packets >= sent })
    let afterFirst = try attachment.counters.read()
    #expect(afterFirst[.drop].packets == sent)
    #expect(afterFirst[.drop].bytes == sent * UInt64(frame.bytes.count))

    // Replace atomically: same link, new program, counters continue.
    let linkID = try attachment.link.info().id
    try attachment.replace(with: request(TestPrograms.counting(.pass, name: "count_pass")))
    let secondProgram = try attachment.program().info()
    #expect(try attachment.link.info().id == linkID)
    #expect(secondProgram.id != firstProgram.id)
    #expect(secondProgram.name == "count_pass")
    let reopened = try #require(try XDPAttachment.open(interface: interface))
    #expect(reopened.counters.map.id == attachment.counters.map.id)
    let second = TrafficGenerator.start(
      .init(
        frames: [frame], interface: network.veth.peer, namespace: network.namespace,
        framesPerRun: UInt32(sent), limit: sent))
    #expect(second.wait() == nil)
    #expect(try eventually { try attachment.counters.read()[.pass].packets >= sent })
    let afterSecond = try attachment.counters.read()
    #expect(afterSecond[.drop].packets == sent)
    #expect(afterSecond[.pass].packets == sent)

    // Detach leaves no pin, no link and no program on the interface.
    try XDPAttachment.detach(interface: interface)
    #expect(!PinDirectory.exists(pins.linkPath))
    #expect(!PinDirectory.exists(pins.countersPath))
    #expect(!PinDirectory.exists(pins.path))
    let index = if_nametoindex(interface)
    #expect(try XDPLink.links(onInterface: index).isEmpty)
    #expect(try InterfaceInventory.query()[name: interface]?.programs.isEmpty == true)
  }

  @Test func generatorStopsOnRequest() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let attachment = try XDPAttachment.attach(
      request(TestPrograms.counting(.drop, name: "count_drop")), to: network.veth.name,
      mode: .native)
    let frame = TestNetwork.frame
    let generator = TrafficGenerator.start(
      .init(
        frames: [frame], interface: network.veth.peer, namespace: network.namespace,
        framesPerRun: 64))
    #expect(eventually { generator.framesSent > 0 })
    #expect(generator.stop() == nil)
    #expect(!generator.isRunning)
    let sent = generator.framesSent
    #expect(sent % 64 == 0)
    #expect(try eventually { try attachment.counters.read()[.drop].packets > 0 })
    #expect(try attachment.counters.read()[.drop].packets <= sent)
  }

  @Test func foreignProgramIsRefusedWithoutForce() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let foreign = try ForeignProgram(on: interface, mode: .generic)
    defer { foreign.detach() }
    let foreignID = foreign.id

    let error = try #require(throws: AttachError.self) {
      _ = try XDPAttachment.attach(
        request(TestPrograms.counting(.drop, name: "count_drop")), to: interface, mode: .generic)
    }
    guard case .foreignProgram(let name, let program) = error else {
      Issue.record("expected a refusal, got \(error)")
      return
    }
    #expect(name == interface)
    #expect(program.id == foreignID)
    #expect(program.name == "foreign")
    // Nothing changed: no pins, the foreign program still attached.
    let pins = PinDirectory(interface: interface)
    #expect(!PinDirectory.exists(pins.path))
    #expect(try InterfaceInventory.query()[name: interface]?.programs.map(\.id) == [foreignID])

    // With force, ours replaces it.
    let attachment = try XDPAttachment.attach(
      request(TestPrograms.counting(.drop, name: "count_drop")), to: interface, mode: .generic,
      force: true)
    let attached = try #require(try InterfaceInventory.query()[name: interface]?.programs)
    #expect(attached.map(\.id) == [try attachment.program().info().id])
    try attachment.detach()
  }

  @Test func failedAttachLeavesNothingBehind() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let rejected = Program(
      name: "reads_r3", sectionName: "xdp", instructions: [.move(.r1, .r3), .exit])
    let error = try #require(throws: AttachError.self) {
      _ = try XDPAttachment.attach(request(rejected), to: interface, mode: .native)
    }
    guard case .load(.rejected) = error else {
      Issue.record("expected a verifier rejection, got \(error)")
      return
    }
    #expect(!PinDirectory.exists(PinDirectory(interface: interface).path))
    #expect(try InterfaceInventory.query()[name: interface]?.programs.isEmpty == true)
  }
}
