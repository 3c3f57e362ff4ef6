import BPF
import KernelTestSupport
import Testing

@testable import Kernel

/// The one live map type on real kernel maps: lookup, update, delete,
/// iteration key by key and in batches, per-CPU copies, the layout check
/// of a pinned map.
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct KernelMapTests {
  static func key(_ value: UInt32) -> [UInt8] { KernelMap.key(value) }

  @Test func batchOperationsMatchKeyByKey() throws {
    let map = try KernelMap.create(
      MapDefinition(name: "xbt_hash", type: .hash, keySize: 4, valueSize: 8, maxEntries: 1024))
    #expect(map.info.name == "xbt_hash" && map.info.type == .hash && map.info.maxEntries == 1024)
    let pairs = (0..<600).map {
      (key: Self.key(UInt32($0 * 3)), value: KernelMap.key(UInt32($0)) + [0, 0, 0, 7])
    }
    try map.updateBatch(pairs)

    let batched = try #require(try map.lookupBatch())
    #expect(batched.count == 600, "more entries than one batch call takes")
    var oneByOne: [[UInt8]: [UInt8]] = [:]
    for key in try map.keys() { oneByOne[key] = try map.lookup(key: key)?.first }
    #expect(oneByOne.count == 600)
    for entry in batched { #expect(oneByOne[entry.key] == entry.copies.first) }
    #expect(try map.lookup(key: Self.key(9)) == [KernelMap.key(3) + [0, 0, 0, 7]])
    #expect(try map.entries(limit: 10).count == 10)

    #expect(try map.deleteBatch([Self.key(0), Self.key(3), Self.key(6)]) == 3)
    #expect(try map.lookup(key: Self.key(3)) == nil)
    #expect(try map.delete(key: Self.key(9)))
    #expect(try map.delete(key: Self.key(9)) == false, "a second delete finds nothing")
    #expect(try map.entries().count == 596)
  }

  @Test func perCPUValuesAreEveryCPUsCopy() throws {
    let counters = try ActionCounters.create()
    #expect(counters.map.copies == KernelMap.possibleCPUs)
    let value = KernelMap.key(5) + [0, 0, 0, 0] + KernelMap.key(300) + [0, 0, 0, 0]
    try counters.map.update(key: Self.key(XDPAction.drop.rawValue), value: value)
    let copies = try #require(try counters.map.lookup(key: Self.key(XDPAction.drop.rawValue)))
    #expect(copies.count == KernelMap.possibleCPUs && copies.allSatisfy { $0 == value })
    let total = try counters.read()
    #expect(total[.drop].packets == 5 * UInt64(KernelMap.possibleCPUs))
    #expect(total[.drop].bytes == 300 * UInt64(KernelMap.possibleCPUs))
    let perCPU = try counters.readPerCPU()
    #expect(perCPU.cpus.count == KernelMap.possibleCPUs)
    #expect(perCPU.total == total)
    // Per-CPU arrays iterate in batches too, one copy per CPU each.
    let entries = try #require(try counters.map.lookupBatch())
    #expect(entries.count == XDPAction.allCases.count)
    #expect(entries[Int(XDPAction.drop.rawValue)].copies == copies)
  }

  @Test func mapsWithoutBatchOperationsAreReadKeyByKey() throws {
    let devmap = try KernelMap.create(
      MapDefinition(name: "xbt_devmap", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 8))
    #expect(try devmap.lookupBatch() == nil, "the kernel has no batch lookup for DEVMAP")
    #expect(try devmap.entries().isEmpty, "empty slots hold no value")
    #expect(try devmap.keys().count == 8, "but every index is a key")
  }

  @Test func aWrongSizeIsRefusedBeforeTheKernel() throws {
    let map = try KernelMap.create(
      MapDefinition(name: "xbt_array", type: .array, keySize: 4, valueSize: 4, maxEntries: 2))
    #expect(
      throws: SystemCallError(
        "update map \"xbt_array\" with a 4-byte key and 8-byte value", errno: .invalid)
    ) {
      try map.update(key: Self.key(0), value: [UInt8](repeating: 0, count: 8))
    }
    #expect(map.info.matches(map.info.definition))
    #expect(!map.info.matches(ActionCounters.definition))
  }
}
