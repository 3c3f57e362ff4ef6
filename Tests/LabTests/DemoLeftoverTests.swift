import Foundation
import Glibc
import Kernel
import Lab
import Testing

/// What a generator killed while writing its pid or count leaves in the
/// state directory: the next `demo up` or `down` removes it.
@Suite struct DemoLeftoverTests {
  /// A pid no process has (the kernel's largest is 4194304).
  static let deadPID: pid_t = 4_194_303

  @Test func downRemovesTheTemporariesOfKilledWriters() throws {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    let state = StateDirectory(
      path: FileManager.default.temporaryDirectory.appendingPathComponent("xbt-demo-\(suffix)")
        .path)
    defer { try? FileManager.default.removeItem(atPath: state.path) }
    try state.create()
    let demo = Demo(
      state: state, namespace: "xbt-dl\(suffix)", interface: "xbtl\(suffix)h",
      peer: "xbtl\(suffix)p")
    let dead = String(Self.deadPID, radix: 16, uppercase: true)
    let live = String(getpid(), radix: 16, uppercase: true)
    let abandoned = [
      // Foundation's atomic write, as earlier generators wrote their count.
      ".dat.nosync\(dead).zz97HD",
      // Ours.
      "xbt-dl\(suffix)-generator.sent.tmp.\(Self.deadPID)",
    ]
    let kept = [".dat.nosync\(live).wdZ6mD", "xbt-dl\(suffix)-generator.sent.tmp.\(getpid())"]
    for name in abandoned + kept {
      try Data("5".utf8).write(to: URL(fileURLWithPath: state.file(name)))
    }
    #expect(kill(Self.deadPID, 0) != 0 && errno == ESRCH)
    demo.down()
    let left = Set(try FileManager.default.contentsOfDirectory(atPath: state.path))
    #expect(left == Set(kept))
  }
}

/// A demo with names of its own (the tests' demos, run beside the
/// standard one) has a redirect target of its own: its `down` once removed
/// the standard demo's `xdpbatch2` while another test's `demo up` was
/// addressing it ("Cannot find device xdpbatch2").
@Suite struct DemoRedirectTargetNameTests {
  @Test func theStandardDemoRedirectsToXdpbatch2() {
    let demo = Demo()
    #expect(demo.redirectTarget.name == "xdpbatch2")
    #expect(demo.redirectTarget.peer == "xdpbatch3")
    #expect(demo.redirectTarget.namespace == demo.namespace)
  }

  @Test func aDemoWithNamesOfItsOwnNamesItsRedirectTargetAfterThem() {
    let demo = Demo(namespace: "xbt-dq", interface: "xbtqh", peer: "xbtqp")
    #expect(demo.redirectTarget.name == "xbtqh-r")
    #expect(demo.redirectTarget.peer == "xbtqp-r")
    #expect(demo.redirectTarget.namespace.name == "xbt-dq")
    #expect(demo.redirectTarget.address == "198.18.0.5/30")
  }
}
