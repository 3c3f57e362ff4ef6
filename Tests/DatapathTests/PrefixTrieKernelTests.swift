import BPF
import Engine
import Kernel
import TestSupport
import Testing

@testable import Datapath

/// The engine's LPM_TRIE against the kernel's: the same operations, with
/// the same arguments, through `bpf(2)` on a real trie and through the
/// engine's map, give the same results (values, errnos: `EINVAL`,
/// `EEXIST`, `ENOENT`, `ENOSPC`) and the same key order.
@Suite(
  .serialized,
  .enabled(if: DatapathAccess.available, Comment(rawValue: DatapathAccess.unavailableReason ?? "")))
struct PrefixTrieKernelTests {
  static let definition = MapDefinition(
    name: "xbt_lpm", type: .lpmTrie, keySize: 8, valueSize: 8, maxEntries: 8, flags: 1)

  static func key(_ length: UInt32, _ address: UInt32) -> [UInt8] {
    withUnsafeBytes(of: length.littleEndian) { Array($0) }
      + withUnsafeBytes(of: address.bigEndian) { Array($0) }
  }

  /// The errno of a kernel call, nil when it succeeded.
  static func kernelErrno(_ body: () throws(SystemCallError) -> Void) -> Int32? {
    do {
      try body()
      return nil
    } catch {
      return error.errno.rawValue
    }
  }

  static func engineErrno(_ body: () throws(MapOperationError) -> Void) -> Int32? {
    do {
      try body()
      return nil
    } catch {
      return error.code
    }
  }

  /// The kernel's own example (lpm_trie.c): lookups pick the longest
  /// prefix, and `get_next_key` returns more specific prefixes first.
  @Test func theKernelsExample() throws {
    let kernel = try KernelMap.create(Self.definition)
    let engine = try Machine(maps: [Self.definition]).maps[0]
    let entries: [([UInt8], UInt64)] = [
      (Self.key(16, 0xC0A8_0000), 1), (Self.key(24, 0xC0A8_0000), 2),
      (Self.key(24, 0xC0A8_8000), 3), (Self.key(24, 0xC0A8_0100), 5),
    ]
    for (key, value) in entries {
      let bytes = withUnsafeBytes(of: value.littleEndian) { Array($0) }
      try kernel.update(key: key, value: bytes)
      try engine.update(key: key, value: bytes)
    }
    let order = [
      Self.key(24, 0xC0A8_0000), Self.key(24, 0xC0A8_0100), Self.key(24, 0xC0A8_8000),
      Self.key(16, 0xC0A8_0000),
    ]
    #expect(try kernel.keys() == order)
    #expect(engine.keys == order)
    for (address, value) in [
      (0xC0A8_0107 as UInt32, 5 as UInt64), (0xC0A8_8001, 3), (0xC0A8_4001, 1), (0xC0A9_0000, 0),
    ] {
      let lookup = Self.key(32, address)
      let expected = value == 0 ? nil : withUnsafeBytes(of: value.littleEndian) { Array($0) }
      #expect(try kernel.lookup(key: lookup)?.first == expected)
      #expect(engine.lookup(key: lookup) == expected)
    }
    // A key naming no entry: get_next_key starts over at the first.
    #expect(engine.nextTrieKey(after: Self.key(8, 0x0A00_0000)) == order[0])
    #expect(engine.nextTrieKey(after: order[3]) == nil)
    #expect(engine.nextTrieKey(after: order[1]) == order[2])
  }

  /// Creation: both refuse a trie without `BPF_F_NO_PREALLOC`, a key of
  /// 4 bytes (no data) and one of 261 (more than 256 data bytes).
  @Test func creationIsRefusedAsTheKernelRefusesIt() throws {
    var refused = Self.definition
    for (flags, keySize) in [(0 as UInt32, 8 as UInt32), (1, 4), (1, 261), (1 | 2, 8)] {
      refused.flags = flags
      refused.keySize = keySize
      #expect(throws: SystemCallError.self, "kernel: flags \(flags), key \(keySize)") {
        try KernelMap.create(refused)
      }
      #expect(throws: MachineError.self, "engine: flags \(flags), key \(keySize)") {
        try Machine(maps: [refused])
      }
    }
    refused.flags = 1
    refused.keySize = 260
    _ = try KernelMap.create(refused)
    _ = try Machine(maps: [refused])
  }

  /// 4,000 random operations on a trie of 8 entries: updates with every
  /// flag (and two invalid ones), deletes, lookups, prefix lengths 0–34
  /// (33 and 34 longer than the data), bits past the prefix set or not.
  @Test(arguments: [1 as UInt64, 2, 3])
  func randomOperationsAgree(seed: UInt64) throws {
    let kernel = try KernelMap.create(Self.definition)
    let engine = try Machine(maps: [Self.definition]).maps[0]
    var random = SeededRandom(state: seed)
    let bases: [UInt32] = [0xC612_0000, 0xC612_0100, 0xC612_8000, 0x0A00_0000, 0xC613_FFFF]
    func randomKey() -> [UInt8] {
      let length = UInt32.random(in: 0...34, using: &random)
      var address = bases.randomElement(using: &random)!
      if Bool.random(using: &random) { address ^= UInt32.random(in: 0...0xFF, using: &random) }
      return Self.key(length, address)
    }
    var counts: [String: Int] = [:]
    for step in 0..<4_000 {
      let key = randomKey()
      switch Int.random(in: 0..<10, using: &random) {
      case 0..<4:
        let flags: UInt64 = [0, 0, 1, 2, 3, 4].randomElement(using: &random)!
        let value = withUnsafeBytes(of: random.next()) { Array($0) }
        let kernelResult = Self.kernelErrno { () throws(SystemCallError) in
          try kernel.update(key: key, value: value, flags: flags)
        }
        let engineResult = Self.engineErrno { () throws(MapOperationError) in
          try engine.update(key: key, value: value, flags: flags)
        }
        #expect(engineResult == kernelResult, "step \(step): update \(key) flags \(flags)")
        counts["update \(kernelResult ?? 0)", default: 0] += 1
      case 4..<6:
        let kernelResult = Self.kernelErrno { () throws(SystemCallError) in
          if try !kernel.delete(key: key) { throw SystemCallError("delete", errno: .notFound) }
        }
        let engineResult = Self.engineErrno { () throws(MapOperationError) in
          try engine.delete(key: key)
        }
        #expect(engineResult == kernelResult, "step \(step): delete \(key)")
        counts["delete \(kernelResult ?? 0)", default: 0] += 1
      default:
        let expected = try kernel.lookup(key: key)?.first
        #expect(engine.lookup(key: key) == expected, "step \(step): lookup \(key)")
        counts[expected == nil ? "lookup none" : "lookup found", default: 0] += 1
      }
      if step % 50 == 0 {
        #expect(engine.keys == (try kernel.keys()), "step \(step): key order")
      }
    }
    #expect(engine.keys == (try kernel.keys()))
    print("LPM trie, seed \(seed): \(counts.sorted { $0.key < $1.key })")
    // Every outcome happened, so each was compared.
    for outcome in [
      "update 0", "update 22", "update 17", "update 2", "update 28", "delete 0", "delete 2",
      "delete 22", "lookup found", "lookup none",
    ] {
      #expect(counts[outcome, default: 0] > 0, "no \(outcome) in \(counts)")
    }
  }

  static func count(_ value: UInt64) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
  }

  /// A queue's exchange with a trie: the engine's counts go into the
  /// entry its key names, never into a shorter prefix that also matches
  /// it (the kernel's lookup would find that one for a key not in the
  /// trie); entries the engine creates and deletes reach the kernel, and
  /// the kernel's changes reach the engine.
  @Test func anExchangeFoldsIntoTheEntryTheKeyNames() throws {
    let kernel = try KernelMap.create(Self.definition)
    let network = Self.key(24, 0xC612_0000)
    let host = Self.key(32, 0xC612_0002)
    let other = Self.key(32, 0xC612_0003)
    try kernel.update(key: network, value: Self.count(100))
    let shared = SharedMaps(fallbackMaps: [0: kernel], definitions: [Self.definition])
    #expect(shared.problem == nil)
    #expect(shared.maps.map(\.sharing) == [.exchanged])
    let machine = try Machine(maps: [Self.definition])
    let engine = machine.maps[0]
    let exchange = MapExchange(shared, machine: machine)
    #expect(engine.lookup(key: host) == Self.count(100), "the /24 holds the host: read when made")

    // The program creates the host's entry and counts 5 into it, and 3
    // into the /24's; meanwhile the kernel program counts 10 into the /24.
    try engine.update(key: host, value: Self.count(5), flags: 1)
    try engine.update(key: network, value: Self.count(103))
    try kernel.update(key: network, value: Self.count(110))
    exchange.exchange()
    #expect(exchange.problem == nil, "\(exchange.problem ?? "")")
    #expect(try kernel.lookup(key: host)?.first == Self.count(5))
    #expect(try kernel.lookup(key: network)?.first == Self.count(113))

    // The host's entry exists on both sides: the engine's 2 more are
    // added to the kernel's (which counted 7 meanwhile), not to the /24.
    try engine.update(key: host, value: Self.count(7))
    try kernel.update(key: host, value: Self.count(12))
    exchange.exchange()
    #expect(try kernel.lookup(key: host)?.first == Self.count(14))
    #expect(try kernel.lookup(key: network)?.first == Self.count(113))
    #expect(engine.lookup(key: host) == Self.count(14))

    // Deletes both ways, and an entry the kernel adds.
    try engine.delete(key: host)
    try kernel.update(key: other, value: Self.count(1))
    exchange.exchange()
    #expect(exchange.problem == nil, "\(exchange.problem ?? "")")
    #expect(try kernel.lookup(key: host)?.first == Self.count(113), "the /24 again")
    #expect(try kernel.keys() == [other, network])
    #expect(engine.keys == [other, network])
    #expect(engine.lookup(key: other) == Self.count(1))
  }
}
