import BPF
import Engine
import Foundation
import Testing

/// Map storage follows use, and one budget bounds what every machine of a
/// process may commit: a map declaring 67 M entries costs what is used of
/// it, or is refused with its name and size.
@Suite struct MemoryBudgetTests {
  static let entries: UInt32 = 1 << 26  // 67 M

  static func huge(_ type: MapType, valueSize: UInt32 = 8) -> MapDefinition {
    MapDefinition(name: "huge", type: type, keySize: 4, valueSize: valueSize, maxEntries: entries)
  }

  /// Pages of `region` the kernel backs with memory (`mincore`), counted on
  /// the region alone: what other tests in the process hold does not count.
  /// A page a read faulted in (the shared zero page) counts too.
  static func residentPages(_ region: Region, of space: AddressSpace) throws -> Int {
    let base = try #require(space.pointer(UInt64(region.start), count: region.length))
    let pages = (region.length + AddressSpace.pageSize - 1) / AddressSpace.pageSize
    var vector = [UInt8](repeating: 0, count: pages)
    #expect(mincore(base, region.length, &vector) == 0, "mincore: errno \(errno)")
    return vector.count { $0 & 1 != 0 }
  }

  @Test func arrayIsChargedAtItsSizeButCommitsWhatIsWritten() throws {
    let budget = MemoryBudget(limit: 1 << 30)
    let bare = try Machine(configuration: MachineConfiguration(memoryBudget: budget)).addressSpace
      .charged
    let machine = try Machine(
      maps: [Self.huge(.array)], configuration: MachineConfiguration(memoryBudget: budget))
    // The array's reachable values are charged whole: 2^26 values of 8 bytes.
    let region = try #require(machine.addressSpace.regions.first { $0.name == "map huge" })
    #expect(region.length == 512 << 20)
    #expect(machine.addressSpace.charged == bare + 512 << 20)
    #expect(budget.used == machine.addressSpace.charged)
    #expect(try Self.residentPages(region, of: machine.addressSpace) == 0)
    let map = machine.maps[0]
    let keys: [UInt32] = [3, 65_536, Self.entries - 1]
    for key in keys { try map.update(key: BPFMap.key(key), value: [9, 0, 0, 0, 0, 0, 0, 1]) }
    #expect(map.lookup(key: BPFMap.key(Self.entries - 1)) == [9, 0, 0, 0, 0, 0, 0, 1])
    #expect(map.lookup(key: BPFMap.key(4)) == [0, 0, 0, 0, 0, 0, 0, 0])
    #expect(map.storedKeys == keys.map(BPFMap.key))
    #expect(MapContents(machine).maps["huge"]?.count == 3)
    // 512 MiB were charged and scanned; the three pages written (keys 3,
    // 65536 and the last) are the only ones backed, scan included.
    #expect(try Self.residentPages(region, of: machine.addressSpace) == 3)
    #expect(budget.used == machine.addressSpace.charged)
  }

  @Test func arrayPastTheBudgetIsRefusedWithItsNameAndSize() throws {
    let budget = MemoryBudget(limit: 64 << 20)
    #expect {
      _ = try Machine(
        maps: [Self.huge(.array)], configuration: MachineConfiguration(memoryBudget: budget))
    } throws: { error in
      guard case MachineError.addressSpace(.budget(let refusal)) = error else { return false }
      return refusal.name == "map huge" && refusal.requested == 512 << 20
        && "\(error)".contains("map huge: 512 MiB would exceed the memory budget")
    }
    #expect(budget.used == 0, "a refused machine gives its charges back")
  }

  @Test func machinesShareOneBudgetAndGiveItBack() throws {
    let budget = MemoryBudget(limit: 1200 << 20)
    let configuration = MachineConfiguration(memoryBudget: budget)
    var machines = [try Machine(maps: [Self.huge(.array)], configuration: configuration)]
    machines.append(try Machine(maps: [Self.huge(.array)], configuration: configuration))
    #expect(throws: MachineError.self) {
      _ = try Machine(maps: [Self.huge(.array)], configuration: configuration)
    }
    machines.removeAll()
    #expect(budget.used == 0)
    _ = try Machine(maps: [Self.huge(.array)], configuration: configuration)
  }

  @Test func hashGrowthPastTheBudgetIsRefusedNamingTheMap() throws {
    let budget = MemoryBudget(limit: 1 << 20)
    let machine = try Machine(
      maps: [Self.huge(.hash, valueSize: 4096)],
      configuration: MachineConfiguration(memoryBudget: budget))
    let map = machine.maps[0]
    var stored = 0
    var refusal: MapOperationError?
    for key in 0..<UInt32(1024) {
      do throws(MapOperationError) {
        try map.update(key: BPFMap.key(key), value: [UInt8](repeating: 1, count: 4096))
        stored += 1
      } catch {
        refusal = error
        break
      }
    }
    #expect(stored > 0 && stored < 256)
    #expect(refusal == MapOperationError(map: "huge", operation: "update", code: 12))
    #expect(budget.used <= budget.limit)

    // From a program: the run stops, naming the map (values of 256 bytes,
    // so one fits the stack; the budget is full after the first page).
    let small = MemoryBudget(limit: 8 * AddressSpace.pageSize + AddressSpace.pageSize + 1024)
    let second = try Machine(
      maps: [Self.huge(.hash, valueSize: 256)],
      configuration: MachineConfiguration(memoryBudget: small))
    var key: UInt32 = 0
    while (try? second.maps[0].update(key: BPFMap.key(key), value: Array(repeating: 1, count: 256)))
      != nil
    {
      key += 1
    }
    #expect(key == 16, "one page of 256-byte values")
    let program = try second.prepare(
      instructions: [
        .store(.word, immediate: 5000, to: .r10, offset: -4),
        .move(.r2, .r10), .add(.r2, immediate: -4),
        .move(.r3, .r10), .add(.r3, immediate: -260),
      ] + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [
        .move(.r4, immediate: 0), .call(helper: HelperFunction.mapUpdateElement.rawValue),
        .exit,
      ])
    #expect {
      _ = try second.run(program, r1: 0)
    } throws: { error in
      guard case ExecutionError.helperFault(_, _, let reason) = error else { return false }
      return reason.contains("map huge") && reason.contains("memory budget")
    }
  }

  @Test func programsReachOnlyTheSlotsHandedOut() throws {
    let budget = MemoryBudget(limit: 64 << 20)
    let machine = try Machine(
      maps: [Self.huge(.hash)], configuration: MachineConfiguration(memoryBudget: budget))
    try machine.maps[0].update(key: BPFMap.key(1), value: [1, 0, 0, 0, 0, 0, 0, 0])
    // lookup(1), then write 1 MiB past the value: out of bounds, not committed.
    let program = try machine.prepare(
      instructions: [.store(.word, immediate: 1, to: .r10, offset: -4)]
        + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [
          .move(.r2, .r10), .add(.r2, immediate: -4),
          .call(helper: HelperFunction.mapLookupElement.rawValue),
          .jump(.jeq, .r0, immediate: 0, offset: 3),
          .add(.r0, immediate: 1 << 20),
          .store(.doubleWord, immediate: 1, to: .r0, offset: 0),
          .move(.r0, immediate: 2),
          .exit,
        ])
    #expect {
      _ = try machine.run(program, r1: 0)
    } throws: { error in
      guard case ExecutionError.memoryFault(_, _, _, true) = error else { return false }
      return true
    }
  }

  @Test func sizesFormatInBinaryUnits() {
    #expect(MemoryBudgetError.format(512 << 20) == "512 MiB")
    #expect(MemoryBudgetError.format(1536 << 20) == "1.5 GiB")
    #expect(MemoryBudgetError.format(100) == "100 bytes")
  }
}
