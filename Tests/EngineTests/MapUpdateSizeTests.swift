import BPF
import Testing

@testable import Engine

/// `map_update_elem` with a key or value of another size than the map's:
/// `EINVAL` and nothing stored, from the engine's core operation (which
/// the helpers, the device-map seeding and the public API all reach) as
/// from the public API, for every kind of storage. Before, the core
/// operation handed a short or long key of a hash or device map to the
/// key table, whose precondition trapped, and cut or zero-extended a
/// value of the wrong size and returned 0.
@Suite("Map updates of the wrong size")
struct MapUpdateSizeTests {
  /// One map of each storage kind, with keys and values of its own size.
  static let definitions = [
    MapDefinition(name: "hash", type: .hash, keySize: 6, valueSize: 8, maxEntries: 4),
    MapDefinition(name: "lru", type: .lruHash, keySize: 4, valueSize: 4, maxEntries: 4),
    MapDefinition(name: "percpu", type: .perCPUHash, keySize: 4, valueSize: 8, maxEntries: 4),
    MapDefinition(name: "array", type: .array, keySize: 4, valueSize: 8, maxEntries: 4),
    MapDefinition(name: "devmap", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 4),
    MapDefinition(
      name: "trie", type: .lpmTrie, keySize: 8, valueSize: 4, maxEntries: 4, flags: 1),
  ]

  /// Keys and values one byte short and one byte long, with the other of
  /// the right size.
  static func wrongSizes(_ definition: MapDefinition) -> [(key: [UInt8], value: [UInt8])] {
    let key = [UInt8](repeating: 0, count: Int(definition.keySize))
    let value = [UInt8](repeating: 0xab, count: Int(definition.valueSize))
    return [
      (Array(key.dropLast()), value), (key + [0], value),
      (key, Array(value.dropLast())), (key, value + [0xcd]),
    ]
  }

  @Test(arguments: definitions)
  func theCoreUpdateRefusesWithEINVAL(_ definition: MapDefinition) throws {
    let map = try Machine(maps: [definition]).maps[0]
    for (key, value) in Self.wrongSizes(definition) {
      for processor in [nil, 0] as [Int?] {
        let result = try map.update(key: key, value: value, flags: 0, processor: processor)
        #expect(
          result == -Errno.invalid,
          "\(definition.name): key \(key.count) bytes, value \(value.count) bytes")
      }
    }
    #expect(map.storedKeys.isEmpty, "\(definition.name): nothing stored")
  }

  @Test(arguments: definitions)
  func thePublicUpdateThrowsEINVAL(_ definition: MapDefinition) throws {
    let map = try Machine(maps: [definition]).maps[0]
    for (key, value) in Self.wrongSizes(definition) {
      #expect(
        throws: MapOperationError(map: definition.name, operation: "update", code: 22),
        "\(definition.name): key \(key.count) bytes, value \(value.count) bytes"
      ) {
        try map.update(key: key, value: value)
      }
    }
    #expect(map.storedKeys.isEmpty, "\(definition.name): nothing stored")
  }
}
