import BPF
import Foundation
import KernelTestSupport
import TestSupport
import Testing

@testable import Deployment

/// Where Debian's bpftool is, if installed (`make deps` installs it).
private let bpftool = ["/usr/sbin/bpftool", "/usr/bin/bpftool"].first {
  FileManager.default.isExecutableFile(atPath: $0)
}

/// The objects `ObjectWriter` writes (what `rewrite -o` writes) load with
/// libbpf 1.x through `bpftool prog load`: BTF-defined maps, no legacy
/// `maps` section. Each sample's per-packet form with the counting pass,
/// as `attach` builds it, is written, loaded, pinned and unpinned.
@Suite(
  .serialized, .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: bpftool != nil, "bpftool is not installed (make deps)"),
  .enabled(
    if: !PackageLayout.sampleObjects.isEmpty, Comment(rawValue: PackageLayout.samplesMissing)))
struct LoadableObjectTests {
  /// Runs bpftool; its exit status and combined output.
  static func bpftoolRun(_ arguments: [String]) throws -> (Int32, String) {
    let result = try runProcessOnOnePipe(
      URL(fileURLWithPath: try #require(bpftool)), arguments)
    return (result.status, result.text)
  }

  /// A fresh temporary directory.
  static func temporaryDirectory(_ label: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
  }

  /// `rewrite --form per-packet -o`, through the built binary: the object
  /// it writes loads with Debian's bpftool, under the program's own name.
  @Test func rewriteWritesAPerPacketObjectBpftoolLoads() throws {
    let directory = try Self.temporaryDirectory("rewrite-per-packet")
    defer { try? FileManager.default.removeItem(at: directory) }
    let file = directory.appendingPathComponent("xdp1-per-packet.o").path
    let written = try BuiltXDPBatch.run([
      "rewrite", PackageLayout.sample("xdp1"), "--form", "per-packet", "-o", file,
    ])
    #expect(written.status == 0, "\(written.errors)")
    #expect(written.output.contains("action-counting pass"))
    let pin = "/sys/fs/bpf/xdpbatch-test-rewrite-\(UInt32.random(in: 0...UInt32.max))"
    defer { unlink(pin) }
    let (status, output) = try Self.bpftoolRun(["prog", "load", file, pin])
    #expect(status == 0, "\(output)")
    let (_, shown) = try Self.bpftoolRun(["prog", "show", "pinned", pin])
    #expect(shown.contains("name xdp_prog1"), "\(shown)")
    let refused = try BuiltXDPBatch.run([
      "rewrite", PackageLayout.sample("xdp1"), "--form", "per-packet", "--json", "-o", file,
    ])
    #expect(refused.status == 2)
  }

  @Test func perPacketObjectsLoadWithBpftool() throws {
    let directory = try Self.temporaryDirectory("loadable")
    defer { try? FileManager.default.removeItem(at: directory) }
    var loaded = 0
    for sample in PackageLayout.sampleObjects {
      let object = try BPFObject(contentsOf: sample.path)
      for entry in object.programEntries where entry.isXDP {
        guard
          let request = try? ProgramSource(objectPath: sample.path, programName: entry.name)
            .instrumentedSpec()
        else { continue }
        let file = directory.appendingPathComponent("\(entry.name).o")
        try Data(
          ObjectWriter(program: request.program, maps: request.maps, license: request.license)
            .bytes()
        ).write(to: file)
        let reread = try BPFObject(contentsOf: file.path)
        #expect(reread.maps == request.maps, "\(entry.name)")
        #expect(try reread.program(named: entry.name).instructions == request.program.instructions)
        let pin = "/sys/fs/bpf/xdpbatch-test-\(entry.name)-\(UInt32.random(in: 0...UInt32.max))"
        let (status, output) = try Self.bpftoolRun(["prog", "load", file.path, pin])
        defer { unlink(pin) }
        #expect(status == 0, "\(sample.lastPathComponent) \(entry.name): \(output)")
        #expect(FileManager.default.fileExists(atPath: pin), "\(entry.name)")
        if status == 0 { loaded += 1 }
      }
    }
    #expect(loaded >= 5)
  }

  @Test(.enabled(if: LLVMToolchain.found != nil, Comment(rawValue: LLVMToolchain.missing)))
  func objdumpReadsPerPacketObjects() throws {
    let directory = try Self.temporaryDirectory("loadable-objdump")
    defer { try? FileManager.default.removeItem(at: directory) }
    let sample = PackageLayout.samplesDirectory.path + "/xdp_classify.o"
    let request = try ProgramSource(objectPath: sample, programName: "xdp_classify_prog")
      .instrumentedSpec()
    let file = directory.appendingPathComponent("classify.o")
    try Data(ObjectWriter(program: request.program, maps: request.maps).bytes()).write(to: file)
    let listing = try #require(LLVMToolchain.found).disassemble(file)
    let theirs = listing.section(named: "xdp")?.lines ?? []
    let reread = try #require(BPFObject(contentsOf: file.path).section(named: "xdp"))
    let ours = Disassembler().lines(reread.instructions)
    #expect(ours.count == theirs.count && ours.count > 40)
    for (mine, other) in zip(ours, theirs) {
      #expect(mine.index == other.index && mine.text == other.text, "\(mine.index)")
    }
  }
}
