import Foundation
import Glibc
import Kernel
import KernelTestSupport
import TestSupport
import Testing

/// `capture` through the built binary on a veth pair: what it writes is
/// what tcpdump reads, a filter keeps only its verdict, Ctrl-C and SIGHUP
/// put the original program back, a capture that cannot start keeps an
/// existing file.
@Suite(.serialized, .kernelAccess, .builtXDPBatch, .sample("xdp1"))
struct CaptureCommandTests: InspectionCommandSuite {
  @Test(
    .enabled(
      if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump"),
      "tcpdump (make deps)"))
  func captureWritesWhatTcpdumpReads() throws {
    let scratch = try NetworkScratch(directory: "xbt-capture")
    defer { scratch.tearDown() }
    let (network, interface, directory) = (scratch.network, scratch.interface, scratch.directory)

    let none = try Self.run(["capture", interface, "-w", directory.path + "/none.pcapng"])
    #expect(none.status == 1)
    #expect(none.errors.contains("has no XDP program attached"))

    let attached = try Self.run([
      "attach", interface, PackageLayout.sample("xdp1"), "--program", "xdp_prog1",
    ])
    #expect(attached.status == 0, "\(attached.errors)")
    for format in ["pcapng", "pcap"] {
      let file = directory.path + "/frames.\(format)"
      let result = try Self.capture(network, file: file, extra: ["--format", format])
      #expect(result.status == 0, "\(result.errors)")
      #expect(result.errors.contains("\(Self.frames) frames written"))
      let lines = try Self.tcpdumpLines(file)
      #expect(lines.count == Int(Self.frames), "\(format): \(lines.prefix(3))")
      #expect(lines.filter { $0.contains("198.18.0.2") }.count >= Int(Self.frames) - 2)
    }
    // A filter on another verdict (xdp1 drops everything) keeps nothing;
    // Ctrl-C ends the capture and the original program is back.
    let filtered = directory.path + "/pass.pcapng"
    let interrupted = try Self.capture(
      network, file: filtered, extra: ["--action", "pass"], interrupt: true)
    #expect(interrupted.status == 0, "\(interrupted.errors)")
    #expect(interrupted.errors.contains("0 frames written"))
    #expect(try Self.tcpdumpLines(filtered).isEmpty)
    #expect(try XDPLink.links(onInterface: if_nametoindex(interface)).count == 1, "one link, ours")

    // pcapng keeps each verdict in the packet's comment.
    let bytes = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/frames.pcapng"))
    #expect(String(decoding: bytes, as: UTF8.self).contains("verdict: XDP_DROP"))
  }

  /// A capture that cannot start leaves an existing file as it was (issue
  /// 24: it truncated it to 64 bytes); SIGHUP ends a capture as Ctrl-C
  /// does, the original program back.
  @Test func aFailedCaptureKeepsTheFileAndHangUpRestoresTheProgram() throws {
    let scratch = try NetworkScratch(directory: "xbt-capture-kept")
    defer { scratch.tearDown() }
    let (network, interface) = (scratch.network, scratch.interface)
    let file = scratch.directory.file("earlier.pcapng")
    let earlier = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7) })
    try earlier.write(to: URL(fileURLWithPath: file))
    for target in [interface, "xbtnosuch0"] {
      let failed = try Self.run(["capture", target, "-w", file, "--count", "1"])
      #expect(failed.status == 1, "\(target): \(failed.errors)")
      #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == earlier, "\(target)")
    }

    let attached = try Self.run([
      "attach", interface, PackageLayout.sample("xdp1"), "--program", "xdp_prog1",
    ])
    #expect(attached.status == 0, "\(attached.errors)")
    let hungUp = try Self.capture(network, file: file, interrupt: true, signal: SIGHUP)
    #expect(hungUp.status == 0, "\(hungUp.errors)")
    // Every test frame, and whatever the kernel sent itself (IPv6
    // neighbour discovery), all in the file.
    let written = try #require(
      hungUp.errors.firstMatch(of: /(\d+) frames written/).flatMap { Int($0.output.1) },
      "\(hungUp.errors)")
    #expect(written >= Int(Self.frames))
    let lines = try Self.tcpdumpLines(file)
    #expect(lines.count == written)
    #expect(lines.filter { $0.contains("198.18.0.2") }.count >= Int(Self.frames))
    #expect(try Self.run(["detach", interface]).status == 0)
  }
}
