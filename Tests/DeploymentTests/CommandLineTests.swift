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

/// The built `xdpbatch` binary on bad input and through the demo: clear
/// messages, exit 1, and nothing attached or pinned afterwards.
@Suite(
  .serialized,
  .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: BuiltXDPBatch.url != nil, Comment(rawValue: BuiltXDPBatch.missing)))
struct CommandLineTests {
  static let samples = PackageLayout.samplesDirectory.path
  static let classifier = samples + "/xdp_classify.o"

  /// Runs the binary; `asNobody` drops to uid/gid 65534 through setpriv.
  static func run(_ arguments: [String], asNobody: Bool = false) throws -> ProcessResult {
    try BuiltXDPBatch.run(arguments, asNobody: asNobody)
  }

  /// Nothing of xdpbatch on `interface`: no program, no pins, no record.
  static func expectUntouched(
    _ interface: String, sourceLocation: SourceLocation = #_sourceLocation
  )
    throws
  {
    let programs = try InterfaceInventory.query()[name: interface]?.programs
    #expect(programs?.isEmpty == true, "programs on \(interface)", sourceLocation: sourceLocation)
    #expect(
      !PinDirectory.exists(PinDirectory(interface: interface).path), sourceLocation: sourceLocation)
    #expect(
      StateDirectory().record(interface: interface) == nil, sourceLocation: sourceLocation)
  }

  /// A program that reads the packet without a bounds check, compiled with
  /// the toolchain's clang; `nil` when there is no clang.
  static func rejectedObject() throws -> String? {
    let clang = ["/opt/swift/usr/bin/clang", "/usr/bin/clang"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
    guard let clang else { return nil }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "xbt-rejected-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let source = directory.appendingPathComponent("unchecked.bpf.c")
    try """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    SEC("xdp") int unchecked(struct xdp_md *ctx)
    {
      unsigned char *data = (unsigned char *)(long)ctx->data;
      return data[12] == 8 ? XDP_DROP : XDP_PASS;
    }
    char _license[] SEC("license") = "GPL";
    """.write(to: source, atomically: true, encoding: .utf8)
    let object = directory.appendingPathComponent("unchecked.o").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: clang)
    process.arguments = [
      "-target", "bpf", "-O2", "-g", "-I/usr/include/x86_64-linux-gnu",
      "-I/usr/include/aarch64-linux-gnu", "-c", source.path, "-o", object,
    ]
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus == 0 ? object : nil
  }

  @Test func badInputFailsCleanly() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name

    let unknown = try Self.run(["attach", "xbtnosuch0", Self.classifier, "--program", "x"])
    #expect(unknown.status == 1)
    #expect(unknown.errors.contains("no network interface named \"xbtnosuch0\""))

    let missing = try Self.run(["attach", interface, Self.classifier, "--program", "nope"])
    #expect(missing.status == 1)
    #expect(missing.errors.contains("nope"))
    #expect(missing.errors.contains("xdp_classify_prog"), "lists the programs there are")
    try Self.expectUntouched(interface)

    let rejectedObject = try #require(try Self.rejectedObject(), "clang with the BPF target")
    let rejected = try Self.run(["attach", interface, rejectedObject, "--program", "unchecked"])
    #expect(rejected.status == 1)
    defer {
      try? FileManager.default.removeItem(
        atPath: (rejectedObject as NSString).deletingLastPathComponent)
    }
    // The message names the instruction of the program as compiled: the
    // unchecked one-byte packet load at offset 12.
    let compiled = try BPFObject(contentsOf: rejectedObject).program(named: "unchecked")
    let unchecked = try #require(
      compiled.instructions.firstIndex { $0.accessSize == .byte && $0.offset == 12 })
    #expect(
      rejected.errors.contains(
        "the verifier rejected program \"unchecked\" at instruction \(unchecked):"))
    #expect(rejected.errors.contains("invalid access to packet"))
    // ... and the source line it was compiled from, from the object's line info.
    #expect(
      rejected.errors.contains(
        "source: \(directory(of: rejectedObject))/unchecked.bpf.c:6: return data[12] == 8 ? XDP_DROP : XDP_PASS;"
      ), "\(rejected.errors)")
    try Self.expectUntouched(interface)

    let nobody = try Self.run(
      ["attach", interface, Self.classifier, "--program", "xdp_classify_prog"], asNobody: true)
    #expect(nobody.status == 1)
    #expect(nobody.errors.contains("needs root"))
    try Self.expectUntouched(interface)

    let batch = try Self.run(
      ["attach", interface, Self.classifier, "--program", "xdp_classify_prog", "--batch"])
    #expect(batch.status == 1)
    #expect(batch.errors.contains("cannot run batch XDP programs"))
    try Self.expectUntouched(interface)

    let usage = try Self.run(["attach", interface])
    #expect(usage.status == 2)
  }

  @Test func foreignProgramIsRefused() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let foreign = try ForeignProgram(on: interface, mode: .native)
    defer { foreign.detach() }
    let foreignID = foreign.id
    let refused = try Self.run(
      ["attach", interface, Self.classifier, "--program", "xdp_classify_prog"])
    #expect(refused.status == 1)
    #expect(refused.errors.contains("--force"))
    #expect(refused.errors.contains("\"foreign\""))
    #expect(try InterfaceInventory.query()[name: interface]?.programs.map(\.id) == [foreignID])
    #expect(!PinDirectory.exists(PinDirectory(interface: interface).path))
    #expect(StateDirectory().record(interface: interface) == nil)
  }

  @Test func attachStatsSwapDetach() throws {
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    let attached = try Self.run(
      ["attach", interface, Self.classifier, "--program", "xdp_classify_prog"])
    #expect(attached.status == 0, "\(attached.errors)")
    let record = try #require(StateDirectory().record(interface: interface))
    #expect(record.form == .perPacket)
    #expect(record.attachMode == .native)

    let stats = try Self.run(["stats", interface, "--json"])
    #expect(stats.status == 0, "\(stats.errors)")
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any])
    #expect(document["interface"] as? String == interface)
    #expect(document["program"] as? String == "xdp_classify_prog")
    #expect(document["mode"] as? String == "per-packet")
    let actions = try #require(document["actions"] as? [String: [String: Int]])
    #expect(Set(actions.keys) == ["aborted", "drop", "pass", "tx", "redirect"])
    let rates = try #require(document["rates"] as? [String: Double])
    #expect(Set(rates.keys) == Set(actions.keys))

    let lines = try Self.run(["stats", interface, "--json", "--interval", "0.1", "--count", "2"])
    #expect(lines.output.split(separator: "\n").count == 2)
    // Each report says when it was read (issue 24): RFC 3339, UTC, in
    // order, about one interval apart; the table's heading has it too.
    let times = try lines.output.split(separator: "\n").map { line in
      let report = try #require(
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      let text = try #require(report["time"] as? String, "no time in \(line)")
      let formatter = ISO8601DateFormatter()
      formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
      return try #require(formatter.date(from: text), "not RFC 3339: \(text)")
    }
    #expect(abs(times[0].timeIntervalSinceNow) < 60)
    #expect(times[1].timeIntervalSince(times[0]) > 0.05)
    let table = try Self.run(["stats", interface, "--interval", "0.1", "--count", "2"])
    let headings = table.output.split(separator: "\n").filter { $0.contains(interface + ": ") }
    #expect(headings.count == 2)
    #expect(
      headings.allSatisfy {
        $0.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z .*/) != nil
      }, "\(headings)")

    #expect(document["datapath"] as? String == "kernel")
    #expect(document["form"] as? String == "per-packet")

    // This kernel has no batch xdp_buff: swap moves the interface to the
    // software datapath in batch form, and the next swap back to the kernel.
    let swap = try Self.run(["swap", interface])
    #expect(swap.status == 0, "\(swap.errors)")
    let moved = try #require(StateDirectory().record(interface: interface))
    #expect(moved.isSoftware && moved.form == .batch && moved.movedFromKernel == true)
    let back = try Self.run(["swap", interface])
    #expect(back.status == 0, "\(back.errors)")
    let returned = try #require(StateDirectory().record(interface: interface))
    #expect(!returned.isSoftware && returned.form == .perPacket)
    let attachment = try #require(try XDPAttachment.open(interface: interface))
    #expect(try attachment.program().info().id == returned.programID)

    let detached = try Self.run(["detach", interface])
    #expect(detached.status == 0, "\(detached.errors)")
    try Self.expectUntouched(interface)
    let again = try Self.run(["detach", interface])
    #expect(again.status == 1)
    #expect(again.errors.contains("has no program attached"))
  }

  @Test func attachModeSpellingsAndMismatch() throws {
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    let attach = ["attach", interface, Self.classifier, "--program", "xdp_classify_prog"]

    // veth's driver does not offload: refused with the reason, nothing changed.
    for spelling in ["hw", "offload"] {
      let offload = try Self.run(attach + ["--mode", spelling])
      #expect(offload.status == 1)
      #expect(offload.errors.contains("offload not available on \(interface)"))
      #expect(offload.errors.contains("Nothing was changed"))
      try Self.expectUntouched(interface)
    }
    let unknown = try Self.run(attach + ["--mode", "per-packet"])
    #expect(unknown.status == 2)

    // xdp-loader's skb is generic; the record says form and attach mode.
    let generic = try Self.run(attach + ["--mode", "skb", "--form", "per-packet"])
    #expect(generic.status == 0, "\(generic.errors)")
    #expect(try InterfaceInventory.query()[name: interface]?.programs.map(\.mode) == [.generic])
    let path = StateDirectory().recordPath(interface: interface)
    let stored = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        as? [String: Any])
    #expect(stored["form"] as? String == "per-packet")
    #expect(stored["attach_mode"] as? String == "generic")
    #expect(stored["mode"] == nil, "the form has a key that says form")
    #expect(stored["strategy"] as? String == "reserve")
    #expect(stored["bound"] as? String == "end-pointer")

    // drv (native) while the kernel runs it generic: refused, unchanged.
    let record = try #require(StateDirectory().record(interface: interface))
    let native = try Self.run(attach + ["--mode", "drv"])
    #expect(native.status == 1)
    #expect(native.errors.contains("runs xdpbatch's program in generic mode, not native"))
    #expect(StateDirectory().record(interface: interface) == record)
    #expect(
      try InterfaceInventory.query()[name: interface]?.programs.map(\.id) == [record.programID])

    let stats = try Self.run(["stats", interface, "--json"])
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any])
    #expect(document["attach_mode"] as? String == "generic")
    #expect(document["form"] as? String == "per-packet")
    #expect(document["mode"] as? String == "per-packet", "DESIGN.md's key stays")

    let replaced = try Self.run(attach + ["--mode", "generic"])
    #expect(replaced.status == 0, "\(replaced.errors)")
    #expect(try Self.run(["detach", interface]).status == 0)
    try Self.expectUntouched(interface)
  }

  @Test(.enabled(if: FileManager.default.fileExists(atPath: classifier), "make samples"))
  func demoUpStatusDownLeavesNothing() throws {
    let lock = DemoLock()
    defer { lock.release() }
    let demo = Demo()
    defer { demo.down() }
    for _ in 0..<2 {
      let up = try Self.run(["demo", "up", "--object", Self.classifier, "--rate", "5000"])
      #expect(up.status == 0, "\(up.errors)")
    }
    #expect(
      try eventually {
        let status = try Self.run(["demo", "status", "--json"])
        let decoded = try JSONDecoder().decode(DemoStatus.self, from: Data(status.output.utf8))
        return decoded.generator.running == true && (decoded.generator.sent ?? 0) > 0
      })
    let status = try JSONDecoder().decode(
      DemoStatus.self, from: Data(try Self.run(["demo", "status", "--json"]).output.utf8))
    #expect(status.namespace == "xdpbatch-demo")
    #expect(status.interface == "xdpbatch0")
    #expect(status.peer == "xdpbatch1")
    #expect(status.program == "xdp_classify_prog")
    let pid = try #require(demo.generatorPID())
    // Unprivileged, the generator's pid file is unreadable: its state is
    // unknown, not "stopped" (issue 24).
    let unprivileged = try BuiltXDPBatch.run(["demo", "status"], asNobody: true)
    #expect(unprivileged.status == 0, "\(unprivileged.errors)")
    #expect(unprivileged.output.contains("generator: unknown (reading it needs root"))
    #expect(!unprivileged.output.contains("stopped"), "\(unprivileged.output)")

    let down = try Self.run(["demo", "down"])
    #expect(down.status == 0, "\(down.errors)")
    #expect(kill(pid, 0) != 0, "the generator process is gone")
    #expect(!NetworkNamespace(name: "xdpbatch-demo").exists)
    let links = try InterfaceInventory.query().interfaces.map(\.name)
    #expect(!links.contains("xdpbatch0"))
    #expect(!PinDirectory.exists(PinDirectory(interface: "xdpbatch0").path))
    #expect(!FileManager.default.fileExists(atPath: demo.generatorPIDPath))
    #expect(StateDirectory().record(interface: "xdpbatch0") == nil)
    let idle = try Self.run(["demo", "down"])
    #expect(idle.status == 0)
    let idleStatus = try Self.run(["demo", "status", "--json"])
    #expect(
      try JSONDecoder().decode(DemoStatus.self, from: Data(idleStatus.output.utf8)).isUp == false)
  }
}

/// The directory part of a path.
private func directory(of path: String) -> String {
  (path as NSString).deletingLastPathComponent
}
