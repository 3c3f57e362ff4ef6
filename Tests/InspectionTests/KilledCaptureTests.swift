import Deployment
import Foundation
import Glibc
import Kernel
import KernelTestSupport
import TestSupport
import Testing

/// A `capture` killed with `kill -9` cannot swap back: its variant stays
/// attached in place of the original (issue 24: `stats` then showed
/// `unknown form`, the next `capture` took the variant for the
/// original). The next `stats`, `capture` or `detach` puts the original
/// back, says so, and leaves no marker or pin behind.
@Suite(.serialized, .kernelAccess, .builtXDPBatch, .sample("xdp1"))
struct KilledCaptureTests: InspectionCommandSuite {
  /// Starts a capture, waits for its variant, kills it with SIGKILL.
  static func killCapture(_ interface: String, original: UInt32, file: String) throws {
    let process = Process()
    process.executableURL = try #require(BuiltXDPBatch.url)
    process.arguments = ["capture", interface, "-w", file, "--duration", "60"]
    process.standardError = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    #expect(try eventually(seconds: 20) { Self.programID(interface) != original })
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal)
    let left = Self.programID(interface)
    try #require(left != original && left != 0, "the variant is left in place of the original")
  }

  @Test func theNextCommandPutsTheOriginalBack() throws {
    let scratch = try NetworkScratch(directory: "xbt-killed-capture")
    defer { scratch.tearDown() }
    let interface = scratch.interface
    let file = scratch.directory.file("frames.pcapng")
    let attached = try BuiltXDPBatch.run([
      "attach", interface, PackageLayout.sample("xdp1"), "--program", "xdp_prog1",
    ])
    try #require(attached.status == 0, "\(attached.errors)")
    let original = Self.programID(interface)
    let back = "left its variant"
    let marker = StateDirectory().file("\(interface).capture.json")
    let pin = PinDirectory(interface: interface).path + "/capture-original"

    try Self.killCapture(interface, original: original, file: file)
    #expect(access(marker, F_OK) == 0 && access(pin, F_OK) == 0)
    let stats = try BuiltXDPBatch.run(["stats", interface])
    #expect(stats.status == 0, "\(stats.errors)")
    #expect(
      stats.errors.contains(back) && stats.errors.contains("program id \(original) is back"),
      "\(stats.errors)")
    #expect(!stats.output.contains("unknown form"), "\(stats.output)")
    #expect(stats.output.contains("xdp_prog1 (per-packet"), "\(stats.output)")
    #expect(Self.programID(interface) == original)
    #expect(access(marker, F_OK) != 0 && access(pin, F_OK) != 0, "the marker and the pin go")

    try Self.killCapture(interface, original: original, file: file)
    let capture = try BuiltXDPBatch.run([
      "capture", interface, "-w", file, "--count", "1", "--duration", "1",
    ])
    #expect(capture.status == 0, "\(capture.errors)")
    #expect(capture.errors.contains(back), "\(capture.errors)")
    #expect(
      capture.errors.contains("program id \(original) is back on \(interface)"),
      "the capture's own variant was built from the original: \(capture.errors)")
    #expect(Self.programID(interface) == original)

    try Self.killCapture(interface, original: original, file: file)
    let detached = try BuiltXDPBatch.run(["detach", interface])
    #expect(detached.status == 0, "\(detached.errors)")
    #expect(detached.errors.contains(back), "\(detached.errors)")
    #expect(Self.programID(interface) == 0)
    #expect(access(marker, F_OK) != 0 && access(pin, F_OK) != 0)
  }
}
