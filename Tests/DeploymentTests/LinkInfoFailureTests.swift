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

/// A failed read of the pinned link (a simulated errno) is an error, never
/// "the attachment is gone": the pin, the counters and the record stay.
@Suite(
  .serialized, .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: FileManager.default.fileExists(atPath: classifierObject), "make samples"))
struct LinkInfoFailureTests {
  static let classifier = ProgramSource(
    objectPath: classifierObject, programName: "xdp_classify_prog")

  /// A reader that fails the way the kernel can fail for a live link.
  static func failing(_ code: Int32) -> XDPLink.InfoReader {
    { _ throws(SystemCallError) in
      throw SystemCallError("read link information", errno: Errno(code))
    }
  }

  @Test(arguments: [EPERM, EINTR, ENOMEM])
  func failedLinkInfoLeavesPinAndRecord(code: Int32) throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let state = StateDirectory(
      path: FileManager.default.temporaryDirectory.appendingPathComponent(
        "xbt-state-\(UInt32.random(in: 0..<UInt32.max))"
      ).path)
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    let record = try ProgramDeployment(state: state).attach(
      Self.classifier, to: interface, mode: .generic)
    let pins = PinDirectory(interface: interface)
    let failing = ProgramDeployment(state: state, readLinkInfo: Self.failing(code))

    func expectKernelError(_ error: DeploymentError?, _ call: String) {
      guard case .attach(.kernel(let kernel))? = error else {
        Issue.record(
          "\(call): expected the kernel's errno \(code), got \(String(describing: error))")
        return
      }
      #expect(kernel.errno == Errno(code), "\(call) reports the errno the kernel gave")
    }
    expectKernelError(
      #expect(throws: DeploymentError.self) { try failing.current(interface: interface) },
      "current")
    expectKernelError(
      #expect(throws: DeploymentError.self) {
        try failing.attach(Self.classifier, to: interface, mode: .generic)
      }, "attach")
    expectKernelError(
      #expect(throws: DeploymentError.self) { try failing.detach(interface: interface) },
      "detach")
    #expect(throws: AttachError.self) {
      try XDPAttachment.open(interface: interface, readInfo: Self.failing(code))
    }

    #expect(PinDirectory.exists(pins.linkPath), "the link pin stays")
    #expect(PinDirectory.exists(pins.countersPath), "the counters pin stays")
    #expect(state.record(interface: interface) == record, "the record stays")
    let (attachment, current) = try ProgramDeployment(state: state).current(interface: interface)
    #expect(try attachment.programID() == record.programID, "the program still runs")
    #expect(current == record)
  }
}
