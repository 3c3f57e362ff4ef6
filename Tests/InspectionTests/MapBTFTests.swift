import Deployment
import Foundation
import Kernel
import KernelTestSupport
import TestSupport
import Testing

/// Maps xdpbatch creates carry their object's BTF key and value types, as
/// libbpf creates them (issue 24: they had none, so `bpftool map dump`
/// printed hex), and `prog --xlated` names a map by its full name (the
/// kernel keeps 15 characters: `redirect_ifinde`).
@Suite(
  .serialized,
  .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: BuiltXDPBatch.url != nil, Comment(rawValue: BuiltXDPBatch.missing)),
  .enabled(
    if: FileManager.default.fileExists(atPath: PackageLayout.sample("xdp_classify")),
    Comment(rawValue: PackageLayout.samplesMissing)))
struct MapBTFTests {
  @Test func bpftoolDumpsTypedEntriesAndXlatedNamesTheWholeMap() throws {
    let bpftool = try #require(
      ["/usr/sbin/bpftool", "/usr/bin/bpftool"].first {
        FileManager.default.isExecutableFile(atPath: $0)
      }, "bpftool is not installed (make deps)")
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    let attached = try BuiltXDPBatch.run([
      "attach", interface, PackageLayout.sample("xdp_classify"), "--program", "xdp_classify_prog",
    ])
    try #require(attached.status == 0, "\(attached.errors)")
    let map = try DeployedProgram.on(interface).program.map(named: "redirect_ifindex")
    #expect(map.info.name == "redirect_ifinde")
    #expect(map.info.btfID != 0 && map.info.keyTypeID != 0 && map.info.valueTypeID != 0)

    // With BTF, bpftool prints each entry formatted; without, hex bytes
    // (`key: 00 00 00 00  value: 00 00 00 00`).
    let dump = try runProcess(URL(fileURLWithPath: bpftool), ["map", "dump", "id", "\(map.id)"])
    #expect(dump.status == 0, "\(dump.errors)")
    let compact = dump.output.filter { !$0.isWhitespace }
    #expect(compact == #"[{"key":0,"value":0}]"#, "\(dump.output)")

    let xlated = try BuiltXDPBatch.run(["prog", interface, "--xlated"])
    #expect(xlated.status == 0, "\(xlated.errors)")
    #expect(
      xlated.output.contains("ll  ; redirect_ifindex\n")
        && xlated.output.contains("ll  ; xdp_stats_map\n"), "\(xlated.output)")
  }
}
