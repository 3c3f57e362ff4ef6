import Deployment
import Foundation
import Kernel
import TestSupport
import Testing

/// `attach --datapath software --engine ... --group-actions`: passed to the
/// datapath process, recorded, and reported by `stats --json`.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct DatapathOptionsTests {
  @Test func attachPassesEngineAndGroupedActionsThrough() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attached = try BuiltXDPBatch.run([
      "attach", interface, SoftwareDatapathTests.classify, "--program", "xdp_classify_prog",
      "--datapath", "software", "--engine", "interpreter", "--group-actions",
    ])
    try #require(attached.status == 0, "\(attached.errors)")
    defer { _ = try? BuiltXDPBatch.run(["detach", interface]) }
    let record = try #require(StateDirectory().record(interface: interface))
    #expect(record.engine == .interpreter && record.groupActions == true)
    let stats = try DatapathLifecycleTests.stats(interface)
    #expect(stats["engine"] as? String == "interpreter")
    #expect(stats["group_actions"] as? Bool == true)
    let status = try #require(ProgramDeployment().status(interface: interface))
    #expect(status.engine == .interpreter && status.groupActions == true)
  }

  @Test func theKernelDatapathRefusesSoftwareOptions() throws {
    let result = try BuiltXDPBatch.run([
      "attach", "lo", SoftwareDatapathTests.classify, "--group-actions",
    ])
    #expect(result.status == 2, "usage error: \(result.errors)")
    #expect(result.errors.contains("--datapath software"))
  }

  @Test func attachDefaultsToTheJITInOrder() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attached = try BuiltXDPBatch.run([
      "attach", interface, SoftwareDatapathTests.classify, "--program", "xdp_classify_prog",
      "--datapath", "software",
    ])
    try #require(attached.status == 0, "\(attached.errors)")
    defer { _ = try? BuiltXDPBatch.run(["detach", interface]) }
    let stats = try DatapathLifecycleTests.stats(interface)
    #expect(stats["engine"] as? String == EngineName.platformDefault)
    #expect(stats["group_actions"] as? Bool == false)
  }
}

/// The platform's default engine as `stats` spells it.
enum EngineName {
  #if arch(x86_64)
    static let platformDefault = "jit"
  #else
    static let platformDefault = "interpreter"
  #endif
}
