import BPF
import Foundation
import TestSupport
import Testing

/// Objects of a few kilobytes declaring maps of 67 M entries (the corpus
/// the fuzzing of issue 16 found): `check` and `run` finish with memory
/// proportional to the entries used, or refuse naming the map (past the
/// budget, or a device map a program may not update).
@Suite(.enabled(if: BuiltXDPBatch.url != nil, BuiltXDPBatch.missingReason))
struct HugeMapTests {
  static let entries: UInt32 = 1 << 26

  /// Frames shorter than 14 bytes (the empty ones the `immediate` bound pads
  /// batches with): XDP_PASS. Else key = length & 1023; update(key, 1);
  /// *lookup(key) += 1; XDP_PASS.
  static let counting: [Instruction] =
    [
      .load(.word, .r2, from: .r1, offset: 4),
      .load(.word, .r3, from: .r1, offset: 0),
      .arithmetic(.sub, .r2, .r3),
      .jump(.jlt, .r2, immediate: 14, offset: 20),
      .arithmetic(.and, .r2, immediate: 1023),
      .store(.word, .r2, to: .r10, offset: -4),
      .store(.doubleWord, immediate: 1, to: .r10, offset: -16),
    ] + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [
      .move(.r2, .r10), .add(.r2, immediate: -4),
      .move(.r3, .r10), .add(.r3, immediate: -16),
      .move(.r4, immediate: 0),
      .call(helper: HelperFunction.mapUpdateElement.rawValue),
    ] + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [
      .move(.r2, .r10), .add(.r2, immediate: -4),
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: 3),
      .load(.word, .r1, from: .r0, offset: 0),
      .add(.r1, immediate: 1),
      .store(.word, .r1, to: .r0, offset: 0),
      .move(.r0, immediate: 2),
      .exit,
    ]

  /// The corpus: one object per map type, each declaring 67 M entries.
  static let corpus: [MapType] = [
    .hash, .lruHash, .perCPUHash, .lruPerCPUHash, .array, .perCPUArray,
  ]
  /// Device maps, which a program may not update (the kernel's verifier
  /// refuses it: DEVMAP and DEVMAP_HASH are `BPF_F_RDONLY_PROG`, CPUMAP
  /// takes only `redirect_map`): the same objects are refused, naming the
  /// map, before any of it is used.
  static let deviceMaps: [(MapType, String)] = [
    (.devmap, "write into map forbidden"), (.devmapHash, "write into map forbidden"),
    (.cpumap, "cannot pass map_type 16 into func bpf_map_update_elem#2"),
  ]

  static func object(_ type: MapType, in directory: URL) throws -> String {
    let valueSize: UInt32 = type == .devmap || type == .devmapHash || type == .cpumap ? 4 : 8
    let map = MapDefinition(
      name: "huge", type: type, keySize: 4, valueSize: valueSize, maxEntries: entries)
    let program = Program(name: "count", sectionName: "xdp", instructions: counting)
    let bytes = try ObjectWriter(program: program, maps: [map]).bytes()
    #expect(bytes.count < 8192, "a small object")
    let path = directory.appendingPathComponent("huge-\(type).o").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// The largest resident size of any child process waited for, in bytes.
  static func largestChildResident() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &usage)
    return usage.ru_maxrss * 1024
  }

  @Test(arguments: corpus)
  func checkAndRunUseWhatIsUsed(type: MapType) throws {
    let directory = try temporaryDirectory("huge")
    defer { try? FileManager.default.removeItem(at: directory) }
    let object = try Self.object(type, in: directory)
    // Arrays are charged at their size (512 MiB a machine, 7 machines);
    // hash and device maps at what is used, so 64 MiB is plenty.
    let isArray = type == .array || type == .perCPUArray
    let memory = isArray ? "6G" : "64M"
    let check = try BuiltXDPBatch.run(
      ["check", object, "--packets", "300", "--memory", memory, "--json"])
    #expect(check.status == 0, "\(type): \(check.errors)")
    let run = try BuiltXDPBatch.run([
      "run", object, "--program", "count", "--mode", "per-packet", "--packets", "300",
      "--memory", memory, "--maps", "--json",
    ])
    #expect(run.status == 0, "\(type): \(run.errors)")
    let document = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any]
    let maps = try #require(document?["maps"] as? [String: [String: Any]])
    let entries = try #require(maps["huge"]?["entries"] as? [[String: Any]])
    #expect((1...1024).contains(entries.count), "\(type): \(entries.count) entries listed")
    if isArray {
      #expect(maps["huge"]?["omittedZeroEntries"] as? Int == Int(Self.entries) - entries.count)
    }
    #expect(Self.largestChildResident() < 512 << 20, "a child held 512 MiB or more")
  }

  @Test(arguments: deviceMaps)
  func aDeviceMapsUpdateIsRefusedNamingTheMap(type: MapType, reason: String) throws {
    let directory = try temporaryDirectory("huge")
    defer { try? FileManager.default.removeItem(at: directory) }
    let object = try Self.object(type, in: directory)
    let refusal =
      "instruction 14: the kernel refuses this in an XDP program: \(reason) (map huge)"
    // What -o would have written over: left as it was, not truncated.
    let outputs = ["batch", "per-packet"].map { directory.appendingPathComponent("\($0).o").path }
    for output in outputs { try Data("kept".utf8).write(to: URL(fileURLWithPath: output)) }
    for command in [
      ["check", object, "--packets", "10", "--memory", "64M"],
      ["run", object, "--program", "count", "--form", "per-packet", "--memory", "64M"],
      ["rewrite", object], ["rewrite", object, "-o", outputs[0]],
      ["rewrite", object, "--form", "per-packet", "-o", outputs[1]],
    ] {
      let result = try BuiltXDPBatch.run(command)
      #expect(result.status == 1, "\(command.joined(separator: " ")) \(type): \(result.output)")
      #expect(
        result.errors.contains("program count: cannot rewrite: \(refusal)")
          || command[0] != "rewrite",
        "\(command.joined(separator: " ")) \(type): \(result.errors)")
      #expect(result.errors.contains(refusal), "\(command[0]) \(type): \(result.errors)")
    }
    for output in outputs {
      #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data("kept".utf8), "\(output)")
    }
  }

  @Test func arrayPastTheBudgetIsRefusedNamingTheMap() throws {
    let directory = try temporaryDirectory("huge")
    defer { try? FileManager.default.removeItem(at: directory) }
    let object = try Self.object(.array, in: directory)
    let check = try BuiltXDPBatch.run(["check", object, "--packets", "10", "--memory", "1G"])
    #expect(check.status == 1)
    #expect(
      check.errors.contains("map huge: 512 MiB would exceed the memory budget"), "\(check.errors)")
    let run = try BuiltXDPBatch.run([
      "run", object, "--program", "count", "--mode", "per-packet", "--memory", "256M",
    ])
    #expect(run.status == 1)
    #expect(
      run.errors.contains("map huge: 512 MiB would exceed the memory budget"), "\(run.errors)")
    let usage = try BuiltXDPBatch.run(["check", object, "--memory", "lots"])
    #expect(usage.status == 2)
  }
}
