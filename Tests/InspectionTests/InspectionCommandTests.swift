import BPF
import Deployment
import Engine
import Foundation
import Glibc
import Inspection
import Kernel
import KernelTestSupport
import TestSupport
import Testing

@testable import Lab

/// `maps`, `map dump/update/delete` and `prog` through the built binary,
/// on a veth pair, for a program xdpbatch attached and for one attached
/// by `ip link set … xdp obj …` (`capture`: CaptureCommandTests).
@Suite(.serialized, .kernelAccess, .builtXDPBatch, .sample("xdp1"))
struct InspectionCommandTests: InspectionCommandSuite {
  @Test func mapDumpShowsWhatTheEnginePredicts() throws {
    let network = try Self.network(attaching: "xdp1", program: "xdp_prog1")
    defer { network.tearDown() }
    let interface = network.veth.name

    let maps = try Self.json(["maps", interface, "--json"])
    let names = (maps["maps"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
    #expect(Set(names ?? []) == ["rxcnt", "xdp_stats_map"])

    Self.send(network)
    let predicted = try Self.enginePrediction(count: Self.frames)
    #expect(predicted == [17: Int(Self.frames)], "UDP frames: protocol 17")
    // The kernel's own frames (IPv6 neighbour discovery) may add other
    // protocols; the engine's keys must match exactly.
    #expect(
      try eventually {
        let dumped = try Self.sums(interface, map: "rxcnt")
        return predicted.allSatisfy { dumped[$0.key] == $0.value }
      })

    // The counters map is shown by name: enum keys, struct values.
    let counters = try Self.json(["map", "dump", interface, "xdp_stats_map", "--json"])
    #expect(counters["types"] as? String == "counters")
    let entries = try #require(counters["entries"] as? [[String: Any]])
    let drop = try #require(entries.first { $0["key"] as? String == "XDP_DROP" })
    let sum = try #require(drop["sum"] as? [String: Int])
    #expect(sum["packets"].map { $0 >= Int(Self.frames) } == true)

    // Changes in the same syntax, and errors that name the field.
    // A per-CPU map takes one value per CPU, as bpftool does (issue 24:
    // one value went to every CPU), or --all-cpus VALUE.
    let cpus = KernelMap.possibleCPUs
    let perCPU = (0..<cpus).map { String(10 + $0) }
    let update = try Self.run(["map", "update", interface, "rxcnt", "200"] + perCPU)
    #expect(update.status == 0, "\(update.errors)")
    let written = try Self.json(["map", "dump", interface, "rxcnt", "--json"])
    let entry = try #require(
      (written["entries"] as? [[String: Any]])?.first { $0["key"] as? Int == 200 })
    let copies = try #require(entry["values"] as? [[String: Any]])
    #expect(copies.map { $0["value"] as? Int } == (0..<cpus).map { 10 + $0 })
    let one = try Self.run(["map", "update", interface, "rxcnt", "200", "7"])
    #expect(one.status == 1)
    #expect(
      one.errors.contains(
        "a percpu_array map takes one value for each of its \(cpus) CPUs (got 1), or --all-cpus VALUE"
      ), "\(one.errors)")
    let all = try Self.run(["map", "update", interface, "rxcnt", "200", "--all-cpus", "7"])
    #expect(all.status == 0, "\(all.errors)")
    #expect(try Self.sums(interface, map: "rxcnt")[200] == 7 * cpus)
    // The kernel's E2BIG in plain words: the key past the array's end.
    let outside = try Self.run(["map", "update", interface, "rxcnt", "256", "--all-cpus", "1"])
    #expect(outside.status == 1)
    #expect(
      outside.errors
        == "xdpbatch: error: map \"rxcnt\": key 256 is out of range: the percpu_array has 256 entries (keys 0 to 255)\n",
      "\(outside.errors)")
    let badValue = try Self.run(["map", "update", interface, "rxcnt", "200", "--all-cpus", "seven"])
    #expect(badValue.status == 1)
    #expect(badValue.errors.contains("value: expected __u64 (unsigned 64-bit integer)"))
    let badMember = try Self.run([
      "map", "update", interface, "xdp_stats_map", "XDP_TX", "--all-cpus", "{packets: 1, bites: 2}",
    ])
    #expect(badMember.status == 1)
    #expect(badMember.errors.contains("value.bites"))
    #expect(badMember.errors.contains("packets, bytes"))
    let unknown = try Self.run(["map", "dump", interface, "nosuch"])
    #expect(unknown.status == 1)
    #expect(unknown.errors.contains("its maps: rxcnt, xdp_stats_map"))
  }

  @Test func mapUpdateFillsTheDevmapAndRedirectRises() throws {
    let network = try Self.network(attaching: "xdp_redirect_map", program: "xdp_redirect_map_prog")
    defer { network.tearDown() }
    let interface = network.veth.name
    func redirected() throws -> Int {
      let stats = try Self.json(["stats", interface, "--json"])
      let actions = try #require(stats["actions"] as? [String: [String: Int]])
      let perCPU = try #require(stats["per_cpu"] as? [[String: [String: Int]]])
      #expect(perCPU.count == KernelMap.possibleCPUs)
      let split = perCPU.reduce(0) { $0 + ($1["redirect"]?["packets"] ?? 0) }
      #expect(split == actions["redirect"]?["packets"], "per_cpu adds up to actions")
      return actions["redirect"]?["packets"] ?? -1
    }

    // An empty DEVMAP slot: bpf_redirect_map returns its fallback, PASS.
    Self.send(network)
    #expect(try redirected() == 0)

    // The frame's destination MAC ends in 0x99: port 1.
    let index = Int(if_nametoindex(interface))
    let update = try Self.run(["map", "update", interface, "tx_port", "1", String(index)])
    #expect(update.status == 0, "\(update.errors)")
    #expect(try Self.sums(interface, map: "tx_port")[1] == index)
    Self.send(network)
    #expect(try eventually { try redirected() >= Int(Self.frames) })

    let deleted = try Self.run(["map", "delete", interface, "tx_port", "1"])
    #expect(deleted.status == 0, "\(deleted.errors)")
    #expect(try Self.sums(interface, map: "tx_port")[1] == nil)
    let again = try Self.run(["map", "delete", interface, "tx_port", "1"])
    #expect(again.status == 1)
    #expect(again.errors.contains("has no entry with key 1"))
  }

  @Test func progShowsAGrowingRunCount() throws {
    let network = try Self.network(attaching: "xdp1", program: "xdp_prog1")
    defer { network.tearDown() }
    let interface = network.veth.name
    let statistics = try RunStatistics.enable()
    defer { _ = statistics }
    let before = try Self.json(["prog", interface, "--json"])
    #expect(before["name"] as? String == "xdp_prog1")
    #expect((before["tag"] as? String)?.count == 16)
    #expect((before["xlated_bytes"] as? Int ?? 0) > 0)
    #expect((before["verified_instructions"] as? Int ?? 0) > 0)
    let runsBefore = try #require(before["run_count"] as? Int)
    Self.send(network)
    #expect(
      try eventually {
        (try Self.json(["prog", interface, "--json"])["run_count"] as? Int ?? 0)
          >= runsBefore + Int(Self.frames)
      })
    let after = try Self.json(["prog", interface, "--json"])
    let perCPU = try #require(after["per_cpu"] as? [[String: [String: Int]]])
    let drops = perCPU.reduce(0) { $0 + ($1["drop"]?["packets"] ?? 0) }
    #expect(drops >= Int(Self.frames))

    let xlated = try Self.run(["prog", interface, "--xlated"])
    #expect(xlated.status == 0)
    #expect(xlated.output.contains("exit"))
    #expect(xlated.output.contains("rxcnt"), "map references name the map")
    #expect(
      xlated.output.contains("call percpu_array_map_lookup_elem")
        || xlated.output.contains("call bpf_map_lookup_elem")
        || !xlated.output.contains("call "),
      "helper calls name the kernel function they reach")
    // Issue 24: the per-CPU address the kernel's inlined per-CPU array
    // lookup emits printed as `<unknown>`; bpftool prints this.
    #expect(xlated.output.contains("r0 = &(void __percpu *)(r0)"), "\(xlated.output)")
    #expect(!xlated.output.contains("<unknown>"), "\(xlated.output)")
    let jited = try Self.run(["prog", interface, "--jited"])
    #expect(jited.status == 0)
    #expect(jited.output.contains("     0: "))
  }

  /// Issue 24: a bpf-to-bpf call printed as `call 0x1` (the JIT's
  /// subprogram index in `imm`); bpftool prints the relative target and
  /// the callee.
  @Test func translatedCodeNamesBPFToBPFCallees() throws {
    let network = try Self.network(attaching: "xdp_calls", program: "xdp_calls_prog")
    defer { network.tearDown() }
    let interface = network.veth.name
    let xlated = try Self.run(["prog", interface, "--xlated"])
    #expect(xlated.status == 0, "\(xlated.errors)")
    let calls = xlated.output.split(separator: "\n").filter { $0.contains(": call pc") }
    #expect(calls.contains { $0.hasSuffix("#hash_macs") }, "\(xlated.output)")
    #expect(calls.contains { $0.hasSuffix("#fold_bytes") }, "\(xlated.output)")
    #expect(!xlated.output.contains("call 0x"), "\(xlated.output)")
  }

  @Test func commandsWorkOnAProgramAttachedByIP() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let ip = try #require(IPCommand.path)
    let attach = try runProcess(
      URL(fileURLWithPath: ip),
      ["link", "set", "dev", interface, "xdp", "obj", PackageLayout.sample("xdp1"), "sec", "xdp"])
    #expect(attach.status == 0, "\(attach.errors)")
    let statistics = try RunStatistics.enable()
    defer { _ = statistics }

    let maps = try Self.json(["maps", interface, "--json"])
    let listed = try #require((maps["maps"] as? [[String: Any]])?.first)
    #expect(listed["name"] as? String == "rxcnt")
    #expect((listed["btf_id"] as? Int ?? 0) != 0, "ip loads the map with BTF")
    let runsBefore = try #require(
      try Self.json(["prog", interface, "--json"])["run_count"] as? Int)

    Self.send(network)
    #expect(try eventually { try Self.sums(interface, map: "rxcnt")[17] == Int(Self.frames) })
    let dump = try Self.json(["map", "dump", interface, "rxcnt", "--json"])
    #expect(dump["types"] as? String == "kernel")
    let after = try Self.json(["prog", interface, "--json"])
    #expect((after["run_count"] as? Int ?? 0) >= runsBefore + Int(Self.frames))
    #expect((after["btf_id"] as? Int ?? 0) != 0)
    // Issue 24: stats refused another tool's program; it reports the
    // kernel's run statistics, as bpftop does.
    let stats = try Self.json(["stats", interface, "--json"])
    #expect(stats["attached_by"] as? String == "another tool", "\(stats)")
    #expect(stats["program_id"] as? Int == after["id"] as? Int)
    #expect(stats["program"] as? String == "xdp_prog1")
    #expect((stats["run_count"] as? Int ?? 0) >= runsBefore + Int(Self.frames), "\(stats)")
    #expect((stats["ns_per_run"] as? Double ?? 0) > 0, "\(stats)")
    #expect(stats["runs_per_second"] is Double || stats["runs_per_second"] is Int, "\(stats)")

    let update = try Self.run(["map", "update", interface, "rxcnt", "17", "--all-cpus", "0"])
    #expect(update.status == 0, "\(update.errors)")
    #expect(try Self.sums(interface, map: "rxcnt")[17] == 0)

    // A capture needs the object, and then uses the running program's maps.
    let refused = try Self.run(["capture", interface, "-w", "/dev/null", "--count", "1"])
    #expect(refused.status == 1)
    #expect(refused.errors.contains("--object"))
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "xbt-ip-capture-\(getpid()).pcapng"
    ).path
    defer { unlink(file) }
    let result = try Self.capture(
      network, file: file, extra: ["--object", PackageLayout.sample("xdp1")])
    #expect(result.status == 0, "\(result.errors)")
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump") {
      #expect(try Self.tcpdumpLines(file).count == Int(Self.frames))
    }
    #expect(
      try eventually { try Self.sums(interface, map: "rxcnt")[17] ?? 0 >= Int(Self.frames) },
      "the capture variant counted in the running program's map")
  }
}
