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

/// `attach` loads the program with its object's BTF and function records:
/// the kernel gives it a `btf_id`, and bpftool and our own listings show
/// the full name, not the kernel's 15 characters (`xdp_classify_pr`).
@Suite(
  .serialized, .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: FileManager.default.fileExists(atPath: classifierObject), "make samples"))
struct ProgramBTFTests {
  @Test func attachedProgramHasBTFAndFullName() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let state = StateDirectory(
      path: FileManager.default.temporaryDirectory.appendingPathComponent(
        "xbt-btf-\(UInt32.random(in: 0..<UInt32.max))"
      ).path)
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    let deployment = ProgramDeployment(state: state)
    _ = try deployment.attach(
      ProgramSource(objectPath: classifierObject, programName: "xdp_classify_prog"),
      to: interface, mode: .generic)
    let attachment = try #require(try XDPAttachment.open(interface: interface))
    let info = try attachment.program().info()
    #expect(info.name == "xdp_classify_prog")
    #expect(info.btfID != nil)

    let bpftool = ["/usr/sbin/bpftool", "/usr/bin/bpftool"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
    if let bpftool {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: bpftool)
      process.arguments = ["prog", "show", "id", String(info.id)]
      let pipe = Pipe()
      process.standardOutput = pipe
      try process.run()
      let output = String(
        decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      process.waitUntilExit()
      #expect(output.contains("name xdp_classify_prog "), "\(output)")
      #expect(output.contains("btf_id \(info.btfID ?? 0)"), "\(output)")
    }
    try deployment.detach(interface: interface)
  }
}
