import Foundation
import Glibc
import Inspection
import Kernel
import KernelTestSupport
import Lab
import TestSupport
import Testing

@testable import Deployment

/// Issue 13, items 4 and 11: `demo up` on a running demo applies a new
/// `--object` (replacing the program atomically) and refuses a new
/// `--mode` with the reason; `--object` takes the object's only XDP
/// program without `--program`.
@Suite(
  .serialized,
  .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: BuiltXDPBatch.url != nil, Comment(rawValue: BuiltXDPBatch.missing)))
struct DemoChangeTests {
  @Test func demoUpAppliesANewObjectAndRefusesANewMode() throws {
    let samples = PackageLayout.samplesDirectory.path
    let lock = DemoLock()
    defer { lock.release() }
    let demo = Demo()
    defer { demo.down() }
    let first = try BuiltXDPBatch.run([
      "demo", "up", "--object", samples + "/xdp_classify.o", "--mode", "generic", "--rate", "100",
    ])
    #expect(first.status == 0, "\(first.errors)")
    let before = try #require(try InterfaceInventory.query()[name: demo.veth.name]?.program)
    #expect(before.name == "xdp_classify_prog")  // the full name, from its BTF

    // Another object, no --program: its only XDP program replaces the first.
    let changed = try BuiltXDPBatch.run([
      "demo", "up", "--object", samples + "/xdp_redirect_map.o", "--mode", "generic",
    ])
    #expect(changed.status == 0, "\(changed.errors)")
    #expect(changed.output.contains("program: xdp_redirect_map_prog"))
    let after = try #require(try InterfaceInventory.query()[name: demo.veth.name]?.program)
    #expect(after.id != before.id)
    #expect(StateDirectory().record(interface: demo.veth.name)?.program == "xdp_redirect_map_prog")

    // Another mode: refused with the reason, the program left running.
    let mode = try BuiltXDPBatch.run([
      "demo", "up", "--object", samples + "/xdp_redirect_map.o", "--mode", "native",
    ])
    #expect(mode.status == 1)
    #expect(mode.errors.contains("runs its program in generic mode; `xdpbatch demo down` first"))
    #expect(try InterfaceInventory.query()[name: demo.veth.name]?.program?.id == after.id)

    // The same again: nothing to change.
    let same = try BuiltXDPBatch.run([
      "demo", "up", "--object", samples + "/xdp_redirect_map.o", "--mode", "generic",
    ])
    #expect(same.status == 0, "\(same.errors)")
    #expect(try InterfaceInventory.query()[name: demo.veth.name]?.program?.id == after.id)
  }

  /// A software datapath (after `swap` on this stock kernel) running the
  /// demo's program is stopped when `demo up` changes the program: the
  /// new program runs in the kernel, and the old process is gone.
  @Test func demoUpWithAnotherObjectStopsTheSoftwareDatapath() throws {
    let samples = PackageLayout.samplesDirectory.path
    let lock = DemoLock()
    defer { lock.release() }
    let demo = Demo()
    defer { _ = try? BuiltXDPBatch.run(["demo", "down"]) }
    let first = try BuiltXDPBatch.run([
      "demo", "up", "--object", samples + "/xdp_classify.o", "--rate", "100",
    ])
    try #require(first.status == 0, "\(first.errors)")
    let swapped = try BuiltXDPBatch.run(["swap", demo.veth.name])
    try #require(swapped.status == 0, "\(swapped.errors)")
    let software = try #require(StateDirectory().record(interface: demo.veth.name))
    let process = try #require(software.process)
    try #require(software.isSoftware && process.isAlive)

    let changed = try BuiltXDPBatch.run(["demo", "up", "--object", samples + "/xdp1.o"])
    #expect(changed.status == 0, "\(changed.errors)")
    let record = try #require(StateDirectory().record(interface: demo.veth.name))
    #expect(record.program == "xdp_prog1" && !record.isSoftware && record.process == nil)
    #expect(eventually { !process.isAlive })
    #expect(if_nametoindex(demo.veth.name + "-tap") == 0)
  }
}
