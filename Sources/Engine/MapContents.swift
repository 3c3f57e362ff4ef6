import BPF

/// Every entry of a machine's maps, per processor: what `xdpbatch check`
/// compares between the per-packet and the batch form of a program.
public struct MapContents: Hashable, Sendable {
  /// Map name, then key, then one value per processor.
  public var maps: [String: [[UInt8]: [[UInt8]]]]

  /// Reads every map of `machine` (program arrays hold programs, not
  /// values, and are skipped; all-zero array entries are left out, which
  /// compares alike since every array has every index).
  public init(_ machine: Machine) {
    var maps: [String: [[UInt8]: [[UInt8]]]] = [:]
    for map in machine.maps where map.definition.type != .programArray {
      var entries: [[UInt8]: [[UInt8]]] = [:]
      for key in map.storedKeys { entries[key] = map.perProcessorValues(key: key) ?? [] }
      maps[map.definition.name] = entries
    }
    self.maps = maps
  }

  /// The first entry (map name and key, by name then key bytes) whose value
  /// differs from `other`'s, or that only one of the two has.
  public func firstDifference(from other: MapContents) -> (map: String, key: [UInt8])? {
    for name in Set(maps.keys).union(other.maps.keys).sorted() {
      let mine = maps[name] ?? [:]
      let theirs = other.maps[name] ?? [:]
      let keys = Set(mine.keys).union(theirs.keys).sorted { $0.lexicographicallyPrecedes($1) }
      if let key = keys.first(where: { mine[$0] != theirs[$0] }) { return (name, key) }
    }
    return nil
  }

  /// How many entries differ from `other`'s.
  public func differenceCount(from other: MapContents) -> Int {
    Set(maps.keys).union(other.maps.keys).reduce(0) { count, name in
      let mine = maps[name] ?? [:]
      let theirs = other.maps[name] ?? [:]
      return count + Set(mine.keys).union(theirs.keys).filter { mine[$0] != theirs[$0] }.count
    }
  }
}

extension Machine {
  /// Gives device maps (DEVMAP, DEVMAP_HASH) entries for even keys below
  /// 16, each naming interface 100 + key, so that redirects through them
  /// both succeed and fall back. `xdpbatch check` seeds every machine it
  /// compares the same way.
  public func seedDeviceMaps() {
    for map in maps where map.definition.type == .devmap || map.definition.type == .devmapHash {
      guard map.definition.keySize == 4, map.definition.valueSize >= 4 else { continue }
      let limit = min(map.definition.maxEntries, 16)
      for key in stride(from: UInt32(0), to: limit, by: 2) {
        var value = BPFMap.key(100 + key)
        value += [UInt8](repeating: 0, count: Int(map.definition.valueSize) - 4)
        try? map.update(key: BPFMap.key(key), value: value)
      }
    }
  }
}
