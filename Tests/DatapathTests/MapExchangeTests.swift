import BPF
import Engine
import Foundation
import Kernel
import Synchronization
import TestSupport
import Testing

@testable import Datapath

/// One queue's exchange with a kernel map, on real kernel maps of every
/// exchanged type: the engine's changes (increments, new entries,
/// deletions, a value set to zero) reach the kernel's map added to what
/// the kernel holds, the kernel's changes reach the engine, and a fold
/// on the CPU where a kernel program counts into the same per-CPU slot
/// loses none of its increments.
@Suite(
  .serialized,
  .enabled(if: DatapathAccess.available, Comment(rawValue: DatapathAccess.unavailableReason ?? "")))
struct MapExchangeTests {
  static func key(_ value: UInt32) -> [UInt8] { KernelMap.key(value) }
  static func value(_ value: UInt64) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
  }

  /// The kernel's value of `key`, summed over CPUs; nil when absent.
  static func kernelSum(_ map: KernelMap, _ key: UInt32) throws -> UInt64? {
    try map.lookupSummed(key: Self.key(key))?.first
  }

  static func engineValue(_ map: BPFMap, _ key: UInt32) -> UInt64? {
    map.lookup(key: Self.key(key)).map { bytes in
      bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
  }

  static let exchangedTypes: [MapType] = [
    .array, .perCPUArray, .hash, .perCPUHash, .lruHash, .lruPerCPUHash,
  ]

  @Test(arguments: exchangedTypes)
  func changesTravelBothWays(type: MapType) throws {
    let definition = MapDefinition(
      name: "xbt_exchange", type: type, keySize: 4, valueSize: 8, maxEntries: 16)
    // An ARRAY made without BPF_F_MMAPABLE (an older program's) is exchanged too.
    let kernel = try KernelMap.create(definition)
    let isArray = type == .array || type == .perCPUArray
    let cpus = UInt64(kernel.copies)
    try kernel.update(key: Self.key(1), value: Self.value(10))  // every CPU, per-CPU maps
    let shared = SharedMaps(fallbackMaps: [0: kernel], definitions: [definition])
    #expect(shared.problem == nil)
    #expect(shared.maps.map(\.sharing) == [.exchanged])
    let machine = try Machine(maps: [definition])
    let engine = machine.maps[0]
    let exchange = MapExchange(shared, machine: machine)

    exchange.exchange()  // nothing to fold: the exchange read the map when made
    #expect(exchange.problem == nil)
    #expect(Self.engineValue(engine, 1) == 10)
    #expect(try Self.kernelSum(kernel, 1) == 10 * cpus)

    // The engine counts and adds; meanwhile someone writes the kernel's map.
    try engine.update(key: Self.key(1), value: Self.value(15))
    try engine.update(key: Self.key(2), value: Self.value(7))
    try kernel.update(key: Self.key(3), value: Self.value(99))
    exchange.exchange()
    #expect(exchange.problem == nil, "\(exchange.problem ?? "")")
    #expect(try Self.kernelSum(kernel, 1) == 10 * cpus + 5)
    #expect(try Self.kernelSum(kernel, 2) == 7)
    #expect(Self.engineValue(engine, 3) == 99)
    #expect(Self.engineValue(engine, 2) == 7)
    // The engine sees one CPU's slot: the one its fold went into.
    #expect(Self.engineValue(engine, 1) == 15)

    // Both change the same entry: the changes add up.
    try engine.update(key: Self.key(2), value: Self.value(8))
    try kernel.update(key: Self.key(2), value: Self.value(100))
    exchange.exchange()
    #expect(try Self.kernelSum(kernel, 2) == 100 * cpus + 1)

    if isArray {
      // A value the program set to zero.
      try engine.update(key: Self.key(1), value: Self.value(0))
      exchange.exchange()
      #expect(try Self.kernelSum(kernel, 1) == 10 * cpus + 5 - 15)
    } else {
      // Deletions both ways.
      try engine.delete(key: Self.key(2))
      try kernel.delete(key: Self.key(3))
      exchange.exchange()
      #expect(try Self.kernelSum(kernel, 2) == nil)
      #expect(Self.engineValue(engine, 3) == nil)
      #expect(Self.engineValue(engine, 1) != nil)
    }
  }

  /// What the engine runs before its queue's first periodic exchange
  /// (a datapath stopped before its queue's thread first ran drains its
  /// RX ring, then makes its last exchange) is folded, not overwritten:
  /// the exchange read the kernel's map when it was made.
  @Test(arguments: exchangedTypes)
  func whatRunsBeforeTheFirstExchangeIsFolded(type: MapType) throws {
    let definition = MapDefinition(
      name: "xbt_first", type: type, keySize: 4, valueSize: 8, maxEntries: 16)
    let kernel = try KernelMap.create(definition)
    let cpus = UInt64(kernel.copies)
    try kernel.update(key: Self.key(1), value: Self.value(10))
    let shared = SharedMaps(fallbackMaps: [0: kernel], definitions: [definition])
    let machine = try Machine(maps: [definition])
    let exchange = MapExchange(shared, machine: machine)
    #expect(Self.engineValue(machine.maps[0], 1) == 10, "read when made")
    // The program counts three frames, then the queue's last exchange.
    try machine.maps[0].update(key: Self.key(1), value: Self.value(13))
    exchange.exchange()
    #expect(exchange.problem == nil, "\(exchange.problem ?? "")")
    #expect(try Self.kernelSum(kernel, 1) == 10 * cpus + 3)
  }

  /// A hash the engine fills past what the kernel's map holds: the
  /// kernel's refusals are reported, and the engine's view ends as the
  /// kernel's map.
  @Test func refusedEntriesAreReported() throws {
    let definition = MapDefinition(
      name: "xbt_full", type: .hash, keySize: 4, valueSize: 8, maxEntries: 4)
    let kernel = try KernelMap.create(definition)
    let shared = SharedMaps(fallbackMaps: [0: kernel], definitions: [definition])
    let machine = try Machine(maps: [definition])
    let exchange = MapExchange(shared, machine: machine)
    exchange.exchange()
    for key in 0..<3 as Range<UInt32> {
      try kernel.update(key: Self.key(100 + key), value: Self.value(1))
    }
    for key in 0..<3 as Range<UInt32> {
      try machine.maps[0].update(key: Self.key(key), value: Self.value(2))
    }
    exchange.exchange()
    let problem = try #require(exchange.problem)
    #expect(problem.contains("xbt_full") && problem.contains("refused 2 change"), "\(problem)")
    #expect(try kernel.keys().count == 4)
    #expect(Set(machine.maps[0].keys) == Set(try kernel.keys()))
  }

  /// The read-modify-write window is closed: a kernel program counts
  /// into a per-CPU slot (`*value += 1`, not atomic, as xdp1 does) on
  /// CPU 0 while the exchange folds the engine's counts on CPU 0 too;
  /// every increment of both is in the map at the end. (A fold by
  /// lookup and update from user space loses the kernel's increments
  /// made between the two.)
  @Test func foldsLoseNoIncrementOfTheKernelProgram() throws {
    let definition = MapDefinition(
      name: "xbt_rxcnt", type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 4)
    let kernel = try KernelMap.create(definition)
    // key = 0; value = lookup(map, &key); if value: *value += 1; return PASS.
    let counting = try ProgramLoader(maps: [definition], reusing: [0: kernel]).load(
      Program(
        name: "xbt_count", sectionName: "xdp",
        instructions: [.store(.word, immediate: 0, to: .r10, offset: -4)]
          + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [
            .move(.r2, .r10), .add(.r2, immediate: -4),
            .call(helper: HelperFunction.mapLookupElement.rawValue),
            .jump(.jeq, .r0, immediate: 0, offset: 3),
            .load(.doubleWord, .r1, from: .r0, offset: 0), .add(.r1, immediate: 1),
            .store(.doubleWord, .r1, to: .r0, offset: 0),
            .move(.r0, immediate: 2), .exit,
          ])
    ).program
    let shared = SharedMaps(fallbackMaps: [0: kernel], definitions: [definition])
    nonisolated(unsafe) let machine = try Machine(maps: [definition])
    nonisolated(unsafe) let exchange = MapExchange(shared, machine: machine)

    let runs: UInt32 = 40_000_000
    let done = Atomic(false)
    let kernelFailure = Mutex<String?>(nil)
    let folds = Mutex<(count: UInt64, problem: String?)>((0, nil))
    // Both on CPU 0, each on a thread of its own (pinning changes only it).
    let counter = Thread {
      Processes.pinCallingThread(toCPU: 0)
      do {
        _ = try TestRun(frame: [UInt8](repeating: 0, count: 64), repetitions: runs).run(counting)
      } catch {
        kernelFailure.withLock { $0 = "\(error)" }
      }
      done.store(true, ordering: .releasing)
    }
    let folder = Thread {
      Processes.pinCallingThread(toCPU: 0)
      exchange.exchange()
      while !done.load(ordering: .acquiring) {
        let view = Self.engineValue(machine.maps[0], 0) ?? 0
        try? machine.maps[0].update(key: Self.key(0), value: Self.value(view + 1000))
        exchange.exchange()
        folds.withLock { $0 = ($0.count + 1000, $0.problem ?? exchange.problem) }
      }
    }
    counter.start()
    folder.start()
    while !counter.isFinished || !folder.isFinished { usleep(10_000) }
    let (folded, problem) = folds.withLock { $0 }
    #expect(problem == nil)
    #expect(kernelFailure.withLock { $0 } == nil)
    #expect(folded >= 10_000, "the folds ran while the kernel program counted")
    #expect(try Self.kernelSum(kernel, 0) == UInt64(runs) + folded)
  }
}
