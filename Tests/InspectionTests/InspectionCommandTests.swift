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

/// `maps`, `map dump/update/delete`, `prog` and `capture` through the
/// built binary, on a veth pair, for a program xdpbatch attached and for
/// one attached by `ip link set … xdp obj …`.
@Suite(
  .serialized,
  .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: BuiltXDPBatch.url != nil, Comment(rawValue: BuiltXDPBatch.missing)),
  .enabled(
    if: FileManager.default.fileExists(atPath: PackageLayout.sample("xdp1")),
    Comment(rawValue: PackageLayout.samplesMissing)))
struct InspectionCommandTests {
  static let frames: UInt64 = 40

  static func run(_ arguments: [String]) throws -> ProcessResult {
    try BuiltXDPBatch.run(arguments)
  }

  static func json(_ arguments: [String]) throws -> [String: Any] {
    let result = try run(arguments)
    #expect(result.status == 0, "\(arguments): \(result.errors)")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
  }

  /// Sends `count` copies of the test frame from the peer to the host side.
  static func send(_ network: TestNetwork, count: UInt64 = frames) {
    let generator = TrafficGenerator.start(
      .init(
        frames: [TestNetwork.frame], interface: network.veth.peer, namespace: network.namespace,
        framesPerRun: UInt32(count), limit: count))
    let failure = generator.wait()
    #expect(failure == nil, "\(failure.map(String.init(describing:)) ?? "")")
  }

  /// The per-key sums of `map dump --json` (keys printed as JSON numbers).
  static func sums(_ interface: String, map: String) throws -> [Int: Int] {
    let document = try json(["map", "dump", interface, map, "--json"])
    let entries = try #require(document["entries"] as? [[String: Any]])
    var sums: [Int: Int] = [:]
    for entry in entries {
      guard let key = entry["key"] as? Int else { continue }
      sums[key] = (entry["sum"] as? Int) ?? (entry["value"] as? Int)
    }
    return sums
  }

  /// What the engine's run of xdp1 over the same frames leaves in `rxcnt`,
  /// per key, summed over CPUs (zero entries left out).
  static func enginePrediction(count: UInt64) throws -> [Int: Int] {
    let object = try BPFObject(contentsOf: PackageLayout.sample("xdp1"))
    let machine = try Machine(maps: object.maps)
    let program = try machine.prepare(try object.program(named: "xdp_prog1"))
    let runner = try PacketRunner(machine: machine, program: program, form: .perPacket)
    _ = try runner.run(Array(repeating: TestNetwork.frame.bytes, count: Int(count)))
    let map = try #require(machine.maps.first { $0.definition.name == "rxcnt" })
    var sums: [Int: Int] = [:]
    for key in map.keys {
      let total = (map.perProcessorValues(key: key) ?? []).reduce(0) {
        $0 + Int(BTFValueFormat.littleEndian($1[0..<8]))
      }
      if total != 0 { sums[Int(BTFValueFormat.littleEndian(key[0..<4]))] = total }
    }
    return sums
  }

  /// The kernel id of the program on `interface` (0: none).
  static func programID(_ interface: String) -> UInt32 {
    (try? DeployedProgram.on(interface).program.programID) ?? 0
  }

  @Test func mapDumpShowsWhatTheEnginePredicts() throws {
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    let attached = try Self.run([
      "attach", interface, PackageLayout.sample("xdp1"), "--program", "xdp_prog1",
    ])
    #expect(attached.status == 0, "\(attached.errors)")

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
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    let attached = try Self.run([
      "attach", interface, PackageLayout.sample("xdp_redirect_map"), "--program",
      "xdp_redirect_map_prog",
    ])
    #expect(attached.status == 0, "\(attached.errors)")
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

  /// Runs `capture` in the background, sends frames once the capture
  /// variant is in, and returns the result; the original program must be
  /// back afterwards.
  static func capture(
    _ network: TestNetwork, file: String, extra: [String] = [], send count: UInt64 = frames,
    interrupt: Bool = false, signal: Int32 = SIGINT
  ) throws -> (status: Int32, errors: String) {
    let interface = network.veth.name
    let original = programID(interface)
    let url = try #require(BuiltXDPBatch.url)
    let process = Process()
    process.executableURL = url
    let limit = interrupt ? [] : ["--count", String(frames)]
    process.arguments = ["capture", interface, "-w", file, "--duration", "30"] + limit + extra
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    #expect(try eventually(seconds: 20) { programID(interface) != original })
    send(network, count: count)
    if interrupt {
      // What Ctrl-C (or an SSH drop: SIGHUP) sends; the capture must end
      // and put the original back.
      usleep(300_000)
      kill(process.processIdentifier, signal)
    }
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(programID(interface) == original, "the original program is back")
    return (process.terminationStatus, String(decoding: errorData, as: UTF8.self))
  }

  /// The lines `tcpdump -r` prints for `file`.
  static func tcpdumpLines(_ file: String) throws -> [Substring] {
    let result = try runProcess(URL(fileURLWithPath: "/usr/bin/tcpdump"), ["-n", "-r", file])
    #expect(result.status == 0, "\(result.errors)")
    return result.output.split(separator: "\n")
  }

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

  @Test func progShowsAGrowingRunCount() throws {
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    let statistics = try RunStatistics.enable()
    defer { _ = statistics }
    let attached = try Self.run([
      "attach", interface, PackageLayout.sample("xdp1"), "--program", "xdp_prog1",
    ])
    #expect(attached.status == 0, "\(attached.errors)")
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
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    let attached = try Self.run([
      "attach", interface, PackageLayout.sample("xdp_calls"), "--program", "xdp_calls_prog",
    ])
    #expect(attached.status == 0, "\(attached.errors)")
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
