import BPF
import Kernel

/// One entry of a map, typed: the key, and the value (or every CPU's copy
/// and their sum, for per-CPU maps).
public struct MapEntry: Sendable, Encodable {
  /// The key.
  public var key: BTFValue
  /// The value, for maps with one copy.
  public var value: BTFValue?
  /// Each CPU's copy, in CPU order, for per-CPU maps.
  public var perCPU: [BTFValue]?
  /// The per-CPU copies added member by member (integers summed; other
  /// fields from CPU 0), for per-CPU maps.
  public var sum: BTFValue?

  enum CodingKeys: String, CodingKey { case key, value, values, sum }
  enum CPUKeys: String, CodingKey { case cpu, value }

  /// JSON as `bpftool map dump -j` with BTF: `{"key", "value"}`, or
  /// `{"key", "values": [{"cpu", "value"}], "sum"}` for per-CPU maps.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(key, forKey: .key)
    try container.encodeIfPresent(value, forKey: .value)
    if let perCPU {
      var values = container.nestedUnkeyedContainer(forKey: .values)
      for (cpu, value) in perCPU.enumerated() {
        var element = values.nestedContainer(keyedBy: CPUKeys.self)
        try element.encode(cpu, forKey: .cpu)
        try element.encode(value, forKey: .value)
      }
    }
    try container.encodeIfPresent(sum, forKey: .sum)
  }
}

/// A map with its types: what `map dump`, `map update` and `map delete`
/// do, in the value syntax of ``BTFValue``.
public struct TypedMap: Sendable {
  /// The map.
  public let map: KernelMap
  /// Its key and value types.
  public let types: MapTypes

  /// Pairs a map with its types.
  public init(map: KernelMap, types: MapTypes) {
    self.map = map
    self.types = types
  }

  /// Every entry, at most `limit`.
  public func entries(limit: Int = 1 << 16) throws(InspectionError) -> [MapEntry] {
    let info = map.info
    if info.type == .ringbuf || info.keySize == 0 {
      throw .unsupported(map: info.name, reason: "a \(info.type) map has no keys to list")
    }
    do {
      return try map.entries(limit: limit).map { entry(key: $0.key, copies: $0.copies) }
    } catch {
      throw .kernel(error)
    }
  }

  func entry(key: [UInt8], copies: [[UInt8]]) -> MapEntry {
    let format = types.format
    let typedKey = format.decode(key, type: types.keyType)
    guard map.info.isPerCPU else {
      return MapEntry(key: typedKey, value: format.decode(copies[0], type: types.valueType))
    }
    let values = copies.map { format.decode($0, type: types.valueType) }
    let sum = values.dropFirst().reduce(values[0]) { $0.adding($1) }
    return MapEntry(key: typedKey, perCPU: values, sum: sum)
  }

  /// Writes `values` under `key`, all in the value syntax (or `hex:`):
  /// one value for a map with one copy; for a per-CPU map one value per
  /// possible CPU, in CPU order (as bpftool takes them), or one value for
  /// every CPU when `allCPUs`.
  public func update(key: String, values: [String], allCPUs: Bool = false)
    throws(InspectionError)
  {
    let summary = map.info
    let format = types.format
    let wanted = summary.isPerCPU && !allCPUs ? map.copies : 1
    guard values.count == wanted else {
      throw .unsupported(
        map: summary.name,
        reason: summary.isPerCPU
          ? "a \(summary.type) map takes one value for each of its \(map.copies) CPUs (got \(values.count)), or --all-cpus VALUE for the same value on every CPU"
          : "a \(summary.type) map takes one value (got \(values.count))")
    }
    let keyBytes: [UInt8]
    var valueBytes: [[UInt8]] = []
    do {
      keyBytes = try format.encode(
        key, type: types.keyType, size: Int(summary.keySize), field: "key")
      for (index, value) in values.enumerated() {
        valueBytes.append(
          try format.encode(
            value, type: types.valueType, size: Int(summary.valueSize),
            field: values.count > 1 ? "value of cpu \(index)" : "value"))
      }
    } catch let error as BTFValueError {
      throw .value(map: summary.name, error)
    } catch {
      throw .kernel(SystemCallError("update map \"\(summary.name)\": \(error)", errno: .invalid))
    }
    do {
      if summary.isPerCPU && !allCPUs {
        try map.update(key: keyBytes, copies: valueBytes)
      } else {
        try map.update(key: keyBytes, value: valueBytes[0])
      }
    } catch let error as SystemCallError {
      throw plainWords(error, key: key)
    } catch {
      throw .kernel(SystemCallError("update map \"\(summary.name)\": \(error)", errno: .ioError))
    }
  }

  /// Writes `value` under `key`; on a per-CPU map, on every CPU.
  public func update(key: String, value: String) throws(InspectionError) {
    try update(key: key, values: [value], allCPUs: true)
  }

  /// The kernel's refusal of an update in the map's own terms:
  /// `E2BIG` from an array is a key past its end, from a hash a full map.
  func plainWords(_ error: SystemCallError, key: String) -> InspectionError {
    let summary = map.info
    guard error.errno == .tooBig else { return .kernel(error) }
    let arrayLike: Set<MapType> = [
      .array, .perCPUArray, .programArray, .devmap, .cpumap, .xskmap, .perfEventArray,
    ]
    if arrayLike.contains(summary.type) {
      return .unsupported(
        map: summary.name,
        reason:
          "key \(key) is out of range: the \(summary.type) has \(summary.maxEntries) entries (keys 0 to \(Int(summary.maxEntries) - 1))"
      )
    }
    return .unsupported(
      map: summary.name,
      reason:
        "the \(summary.type) is full: it holds at most \(summary.maxEntries) entries; delete one first")
  }

  /// Removes the entry under `key`.
  public func delete(key: String) throws(InspectionError) {
    let summary = map.info
    let keyBytes: [UInt8]
    do {
      keyBytes = try types.format.encode(
        key, type: types.keyType, size: Int(summary.keySize), field: "key")
    } catch {
      throw .value(map: summary.name, error)
    }
    // Array-like maps (DEVMAP) report success for an empty slot: look first.
    if case .some(.none) = try? map.lookup(key: keyBytes) {
      throw .noEntry(map: summary.name, key: key)
    }
    do {
      guard try map.delete(key: keyBytes) else {
        throw InspectionError.noEntry(map: summary.name, key: key)
      }
    } catch let error as InspectionError {
      throw error
    } catch let error as SystemCallError {
      if error.errno == .invalid, summary.type == .array || summary.type == .perCPUArray {
        throw .unsupported(
          map: summary.name,
          reason: "entries of a \(summary.type) map cannot be deleted; update them to zero instead")
      }
      throw .kernel(error)
    } catch {
      throw .kernel(
        SystemCallError("delete from map \"\(summary.name)\": \(error)", errno: .ioError))
    }
  }
}

extension BTFValue {
  /// This value plus `other`, member by member: integers add (wrapping),
  /// everything else keeps this value's.
  public func adding(_ other: BTFValue) -> BTFValue {
    switch (self, other) {
    case (.unsigned(let a), .unsigned(let b)): .unsigned(a &+ b)
    case (.signed(let a), .signed(let b)): .signed(a &+ b)
    case (.float(let a), .float(let b)): .float(a + b)
    case (.array(let a), .array(let b)) where a.count == b.count:
      .array(zip(a, b).map { $0.adding($1) })
    case (.members(let a), .members(let b)) where a.count == b.count:
      .members(zip(a, b).map { .init(name: $0.name, value: $0.value.adding($1.value)) })
    default: self
    }
  }
}

extension MapEntry {
  /// Whether every integer of the value (or of each CPU's copy) is zero.
  public var isZero: Bool {
    func zero(_ value: BTFValue) -> Bool {
      switch value {
      case .array(let elements): elements.allSatisfy(zero)
      case .members(let members): members.allSatisfy { zero($0.value) }
      case .bytes(let bytes): bytes.allSatisfy { $0 == 0 }
      case .text(let text): text.isEmpty
      default: value.unsignedValue == 0
      }
    }
    if let perCPU { return perCPU.allSatisfy(zero) }
    return value.map(zero) ?? true
  }
}
