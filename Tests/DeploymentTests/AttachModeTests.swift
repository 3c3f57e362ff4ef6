import BPF
import Foundation
import Glibc
import Kernel
import KernelTestSupport
import TestSupport
import Testing

@testable import Deployment

/// The classifier sample, built by `make samples`.
private let classifierObject = PackageLayout.samplesDirectory.path + "/xdp_classify.o"

/// The attach mode is what the kernel reports (`IFLA_XDP`), not what a
/// record says; replacing honours the mode asked for.
@Suite(
  .serialized, .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: FileManager.default.fileExists(atPath: classifierObject), "make samples"))
struct AttachModeTests {
  static let classifier = ProgramSource(
    objectPath: classifierObject, programName: "xdp_classify_prog")
  static let dropper = ProgramSource(
    objectPath: PackageLayout.samplesDirectory.path + "/xdp1.o", programName: "xdp_prog1")

  static func temporaryState() -> StateDirectory {
    StateDirectory(
      path: FileManager.default.temporaryDirectory.appendingPathComponent(
        "xbt-state-\(UInt32.random(in: 0..<UInt32.max))"
      ).path)
  }

  @Test(arguments: [AttachMode.native, .generic])
  func replacingInAnotherModeIsRefused(attached: AttachMode) throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let state = Self.temporaryState()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    let deployment = ProgramDeployment(state: state)
    let record = try deployment.attach(Self.classifier, to: interface, mode: attached)
    #expect(record.attachMode == attached)
    let kernel = try InterfaceInventory.query()[name: interface]?.programs
    #expect(kernel?.map(\.mode) == [attached])

    let other: AttachMode = attached == .native ? .generic : .native
    #expect {
      try deployment.attach(Self.dropper, to: interface, mode: other)
    } throws: { error in
      guard case DeploymentError.attach(.modeMismatch(interface, attached, other)) = error else {
        return false
      }
      return "\(error)".hasSuffix(
        "runs xdpbatch's program in \(attached.rawValue) mode, not \(other.rawValue)")
    }
    // Nothing changed: the same program, in the same mode, the same record.
    let (attachment, current) = try deployment.current(interface: interface)
    #expect(try attachment.programID() == record.programID)
    #expect(try attachment.mode() == attached)
    #expect(current == record)

    // The mode asked for matches: replaced.
    let replaced = try deployment.attach(Self.dropper, to: interface, mode: attached)
    #expect(replaced.programID != record.programID)
    #expect(replaced.attachMode == attached)
  }

  @Test func staleRecordModeIsNotBelieved() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let state = Self.temporaryState()
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    let deployment = ProgramDeployment(state: state)
    var record = try deployment.attach(Self.classifier, to: interface, mode: .generic)
    // A record that says native although the kernel runs it generic.
    record.attachMode = .native
    try state.save(record)

    let (_, current) = try deployment.current(interface: interface)
    #expect(current?.attachMode == .generic, "the kernel's mode, not the record's")
    // Replacing in the kernel's mode works; in the record's it is refused.
    #expect(throws: DeploymentError.self) {
      try deployment.attach(Self.dropper, to: interface, mode: .native)
    }
    let replaced = try deployment.attach(Self.dropper, to: interface, mode: .generic)
    #expect(replaced.attachMode == .generic)
    #expect(state.record(interface: interface)?.attachMode == .generic, "the record is repaired")
  }
}
