import BPF
import Engine
import Foundation
import Glibc
import Synchronization
import Testing

/// An array whose values are pages of a file shared with others (the
/// software datapath maps a kernel ARRAY created with `BPF_F_MMAPABLE`):
/// programs read and write the file's bytes at the addresses they had,
/// atomics hold against other threads, and a file that cannot be mapped
/// leaves the array as it was. A temporary file stands in for the
/// kernel's map (no root needed).
@Suite("Shared map memory")
struct SharedMemoryTests {
  /// An open, unlinked file of `bytes` bytes and a shared mapping of it.
  final class SharedFile {
    let descriptor: Int32
    let bytes: Int
    let memory: UnsafeMutableRawPointer

    init(bytes: Int) throws {
      let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("xdpbatch-shared-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        .path
      descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
      try #require(descriptor >= 0)
      unlink(path)
      self.bytes = bytes
      try #require(ftruncate(descriptor, off_t(bytes)) == 0)
      let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
      memory = try #require(mapped == MAP_FAILED ? nil : mapped)
    }

    deinit {
      munmap(memory, bytes)
      close(descriptor)
    }

    func word(_ index: Int) -> UInt64 { memory.load(fromByteOffset: index * 8, as: UInt64.self) }
  }

  let counters = MapDefinition(
    name: "counters", type: .array, keySize: 4, valueSize: 8, maxEntries: 1024)

  /// key = 5; value = lookup(map 0, &key); if value: lock *value += 1 and
  /// return *(u64 *)(value + 8) (key 6's value); else return 0.
  let countAndRead: [Instruction] =
    [Instruction.storeWord(5, .r10, -4)] + Instruction.map(.r1, 0) + [
      .move(.r2, .r10), .add(.r2, immediate: -4), .helper(.mapLookupElement),
      .jump(.jeq, .r0, immediate: 0, offset: 3),
      .move(.r1, immediate: 1),
      Instruction(opcode: 0xdb, dst: .r0, src: .r1, immediate: 0),
      .load(.doubleWord, .r0, from: .r0, offset: 8),
      .exit,
    ]

  @Test(arguments: [EngineKind.interpreter, .jit])
  func programsWorkOnTheSharedPages(engine: EngineKind) throws {
    let file = try SharedFile(bytes: 8192)
    let machine = try Machine(
      maps: [counters], configuration: MachineConfiguration(engine: engine))
    let map = machine.maps[0]
    let program = try machine.prepare(instructions: countAndRead)
    _ = try machine.run(program, r1: 0)  // counted in the machine's own pages
    #expect(map.canShareMemory)
    try map.share(memoryOf: file.descriptor)
    // The other side's values, the program's writes: one set of bytes.
    file.memory.storeBytes(of: UInt64(41), toByteOffset: 5 * 8, as: UInt64.self)
    file.memory.storeBytes(of: UInt64(77), toByteOffset: 6 * 8, as: UInt64.self)
    #expect(try machine.run(program, r1: 0) == 77)
    #expect(file.word(5) == 42)
    #expect(map.lookup(key: BPFMap.key(5)) == [42, 0, 0, 0, 0, 0, 0, 0])
    try map.update(key: BPFMap.key(1000), value: [9, 0, 0, 0, 0, 0, 0, 0])
    #expect(file.word(1000) == 9)
    #expect(map.storedKeys == [BPFMap.key(5), BPFMap.key(6), BPFMap.key(1000)])
  }

  @Test func globalDataKeepsItsAddress() throws {
    let file = try SharedFile(bytes: 4096)
    let data = MapDefinition(
      name: ".data", type: .array, keySize: 4, valueSize: 8, maxEntries: 1,
      initialValue: [5, 0, 0, 0, 9, 0, 0, 0])
    let machine = try Machine(maps: [data])
    // Prepared before the pages are shared: the address it loads stays right.
    let program = try machine.prepare(
      instructions: Instruction.loadImmediate64(.r1, 0, kind: .mapValueByIndex)
        + [.load(.word, .r0, from: .r1, offset: 4), .exit])
    #expect(try machine.run(program, r1: 0) == 9)
    file.memory.storeBytes(of: UInt32(31), toByteOffset: 4, as: UInt32.self)
    try machine.maps[0].share(memoryOf: file.descriptor)
    #expect(try machine.run(program, r1: 0) == 31)
  }

  /// key = 5; value = lookup(map 0, &key); 32 times lock *value += 1.
  let addThirtyTwoTimes: [Instruction] =
    [Instruction.storeWord(5, .r10, -4)] + Instruction.map(.r1, 0) + [
      .move(.r2, .r10), .add(.r2, immediate: -4), .helper(.mapLookupElement),
      .jump(.jeq, .r0, immediate: 0, offset: 33), .move(.r1, immediate: 1),
    ]
    + [Instruction](
      repeating: Instruction(opcode: 0xdb, dst: .r0, src: .r1, immediate: 0), count: 32)
    + [.move(.r0, immediate: 0), .exit]

  /// Two machines on one set of pages, each on its own thread, as two
  /// queues of the software datapath: no atomic add is lost. (A plain
  /// read-modify-write loses some here within a few thousand runs.)
  @Test(arguments: [EngineKind.interpreter, .jit])
  func atomicsHoldAcrossThreads(engine: EngineKind) throws {
    let file = try SharedFile(bytes: 8192)
    let runs = 20_000
    nonisolated(unsafe) let machines = try (0..<2).map { _ in
      let machine = try Machine(
        maps: [counters], configuration: MachineConfiguration(engine: engine))
      try machine.maps[0].share(memoryOf: file.descriptor)
      return (machine, try machine.prepare(instructions: addThirtyTwoTimes))
    }
    let failures = Mutex(0)
    let threads = machines.indices.map { index in
      let thread = Thread {
        let (machine, program) = machines[index]
        for _ in 0..<runs where (try? machine.run(program, r1: 0)) == nil {
          failures.withLock { $0 += 1 }
        }
      }
      thread.start()
      return thread
    }
    while threads.contains(where: { !$0.isFinished }) { usleep(1000) }
    #expect(failures.withLock { $0 } == 0)
    #expect(file.word(5) == UInt64(runs * 32 * machines.count))
  }

  @Test func onlyAnArrayCanShare() throws {
    let file = try SharedFile(bytes: 4096)
    let perCPU = MapDefinition(
      name: "stats", type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 4)
    let map = try Machine(maps: [perCPU]).maps[0]
    #expect(!map.canShareMemory)
    #expect(throws: AddressSpaceError.unshareable(name: "map stats", errno: Errno.invalid.rawValue))
    {
      try map.share(memoryOf: file.descriptor)
    }
  }

  /// A descriptor the host will not map (a pipe's read end: EACCES): an error naming the
  /// map and the errno, and the values stay the machine's own.
  @Test func aFileThatCannotBeMappedChangesNothing() throws {
    var ends: [Int32] = [0, 0]
    try #require(pipe(&ends) == 0)
    defer {
      close(ends[0])
      close(ends[1])
    }
    let machine = try Machine(maps: [counters])
    let map = machine.maps[0]
    try map.update(key: BPFMap.key(6), value: [3, 0, 0, 0, 0, 0, 0, 0])
    #expect(throws: AddressSpaceError.unshareable(name: "map counters", errno: EACCES)) {
      try map.share(memoryOf: ends[0])
    }
    let program = try machine.prepare(instructions: countAndRead)
    #expect(try machine.run(program, r1: 0) == 3)
    #expect(map.lookup(key: BPFMap.key(5)) == [1, 0, 0, 0, 0, 0, 0, 0])
  }
}
